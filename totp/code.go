package totp

import (
	"crypto/subtle"
	"encoding/base32"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// maxInput bounds what the normalisers look at: anything longer is not a
// code, whatever it holds.
const maxInput = 128

// normalizeCode returns the 6 ASCII digits of a user-typed TOTP code, after
// removing ASCII spaces and tabs (apps show "123 456"). Anything else —
// other lengths, non-ASCII digits such as full-width ones, letters — is not
// a code and reports false.
func normalizeCode(in string) (string, bool) {
	if len(in) > maxInput {
		return "", false
	}
	var buf [Digits]byte
	n := 0
	for i := 0; i < len(in); i++ {
		c := in[i]
		switch {
		case c == ' ' || c == '\t':
			continue
		case c >= '0' && c <= '9':
			if n == Digits {
				return "", false
			}
			buf[n] = c
			n++
		default:
			return "", false
		}
	}
	if n != Digits {
		return "", false
	}
	return string(buf[:]), true
}

// b32 encodes a raw secret the way authenticator apps read it: RFC 4648
// base32 without padding.
var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// codeOpts are the code parameters (SECURITY.md §14).
var codeOpts = totp.ValidateOpts{
	Period:    uint(Period / time.Second),
	Digits:    otp.DigitsSix,
	Algorithm: otp.AlgorithmSHA1,
}

// stepAt returns the RFC 6238 §4.2 time step T = floor((now - T0) / X) with
// T0 = 0 and X = 30 s.
func stepAt(now time.Time) int64 {
	sec := now.Unix()
	p := int64(Period / time.Second)
	if sec < 0 {
		return (sec - p + 1) / p
	}
	return sec / p
}

// codeAt returns the code of the base32 secret for a time step.
func codeAt(secretB32 string, step int64) (string, error) {
	return totp.GenerateCodeCustom(secretB32, time.Unix(step*int64(Period/time.Second), 0), codeOpts)
}

// matchResult is the outcome of comparing a code with a secret.
type matchResult int

const (
	noMatch  matchResult = iota
	matched              // matches a step newer than the last accepted one
	replayed             // matches only steps already used
)

// match compares code (already normalised) with the codes of secret for the
// steps now-skew … now+skew, all of them, each in constant time (SECURITY.md
// §21), and returns the newest matching step. The window is computed from
// the server clock only (SECURITY.md §14); the caller must still accept the
// step atomically with [storage.TOTPStore.AcceptTOTPStep].
//
// Taking the newest matching step, rather than the first, matters when one
// code happens to be valid for two steps of the window: accepting the older
// one would let the same code be accepted again for the newer one.
func match(secret []byte, code string, now time.Time, skew, last int64) (int64, matchResult, error) {
	secretB32 := b32.EncodeToString(secret)
	cur := stepAt(now)
	var (
		best  int64
		found bool
		stale bool
	)
	// RFC 6238 §5.2: accept the current step and at most skew steps
	// either side.
	for st := cur - skew; st <= cur+skew; st++ {
		if st < 0 {
			continue
		}
		want, err := codeAt(secretB32, st)
		if err != nil {
			return 0, noMatch, err
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) != 1 {
			continue
		}
		// RFC 6238 §5.2: "the verifier MUST NOT accept the second attempt
		// of the same OTP after the successful validation has been issued
		// for the first OTP": only a step newer than the last accepted one.
		if st > last {
			best, found = st, true
		} else {
			stale = true
		}
	}
	switch {
	case found:
		return best, matched, nil
	case stale:
		return 0, replayed, nil
	default:
		return 0, noMatch, nil
	}
}
