package totp

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/sessionguard/sessionguard/session"
	"github.com/sessionguard/sessionguard/storage"
)

// Recovery codes are 28 characters of the lower-case RFC 4648 base32
// alphabet, 5 random bits each: 140 bits from crypto/rand, above the 128
// bits that let a plain SHA-256 stand in for a password hash (SECURITY.md
// §19). They are shown in 7 groups of 4 separated by dashes
// ("abcd-efgh-…"); the alphabet has no 0, 1, 8 or 9, so nothing reads
// ambiguously as a digit.
const (
	recoveryCodeLen   = 28
	recoveryGroupLen  = 4
	recoveryAlphabet  = "abcdefghijklmnopqrstuvwxyz234567"
	recoveryFormatLen = recoveryCodeLen + recoveryCodeLen/recoveryGroupLen - 1
)

// newRecoveryCode returns a fresh code in its canonical form (no dashes).
func newRecoveryCode() string {
	var b [recoveryCodeLen]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go ≥ 1.24)
	for i := range b {
		// 256 is a multiple of 32: every character is equally likely.
		b[i] = recoveryAlphabet[b[i]&31]
	}
	return string(b[:])
}

// formatRecoveryCode groups a canonical code for display.
func formatRecoveryCode(code string) string {
	var sb strings.Builder
	sb.Grow(recoveryFormatLen)
	for i := 0; i < len(code); i += recoveryGroupLen {
		if i > 0 {
			sb.WriteByte('-')
		}
		sb.WriteString(code[i:min(i+recoveryGroupLen, len(code))])
	}
	return sb.String()
}

// normalizeRecoveryCode returns the canonical form of a user-typed recovery
// code: ASCII letters lower-cased, spaces, tabs and dashes removed
// (SECURITY.md §19). Anything that is not then exactly a code's length of
// the code alphabet reports false.
func normalizeRecoveryCode(in string) (string, bool) {
	if len(in) > maxInput {
		return "", false
	}
	var buf [recoveryCodeLen]byte
	n := 0
	for i := 0; i < len(in); i++ {
		c := in[i]
		switch {
		case c == ' ' || c == '\t' || c == '-':
			continue
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		case c >= 'a' && c <= 'z', c >= '2' && c <= '7':
		default:
			return "", false
		}
		if n == recoveryCodeLen {
			return "", false
		}
		buf[n] = c
		n++
	}
	if n != recoveryCodeLen {
		return "", false
	}
	return string(buf[:]), true
}

// hashRecoveryCode returns what is stored for a canonical code: its SHA-256.
// 140 random bits make a slow hash unnecessary (SECURITY.md §19).
func hashRecoveryCode(canonical string) storage.TokenHash {
	return storage.HashToken([]byte(canonical))
}

// newRecoveryCodes returns n codes formatted for display and their hashes.
func newRecoveryCodes(n int) ([]string, []storage.TokenHash) {
	codes := make([]string, n)
	hashes := make([]storage.TokenHash, n)
	for i := range codes {
		c := newRecoveryCode()
		codes[i] = formatRecoveryCode(c)
		hashes[i] = hashRecoveryCode(c)
	}
	return codes, hashes
}

// VerifyRecoveryCode checks a recovery code of userID and uses it up: each
// code works once, even when submitted concurrently (SECURITY.md §19). Input
// is normalised first: case, spaces and dashes do not matter.
//
// Attempts are throttled together with TOTP codes ([Config.Policy]): it
// returns a [*LockedError] (matching [ErrLocked]) while locked out, without
// looking at the code; [ErrInvalidCode] for a wrong, used, or malformed
// code (each counted as a failure); [ErrNotEnabled] if userID has no
// confirmed second factor. On success it resets the failure counter and
// records [storage.EventRecoveryCodeUsed].
func (s *Service) VerifyRecoveryCode(ctx context.Context, a session.Audit, userID, code string) error {
	if _, err := s.confirmed(ctx, userID); err != nil {
		return err
	}
	th, err := s.reserve(ctx, userID)
	if err != nil {
		return err
	}
	canonical, ok := normalizeRecoveryCode(code)
	if !ok {
		s.failed(ctx, a, userID, th, storage.EventSecondFactorFailed, "recovery code")
		return fmt.Errorf("totp: recovery code: %w", ErrInvalidCode)
	}
	// Lookup by hash; the store removes the code atomically, so of
	// concurrent uses exactly one succeeds.
	switch err := s.store.ConsumeRecoveryCode(ctx, userID, hashRecoveryCode(canonical)); {
	case errors.Is(err, storage.ErrNotFound):
		s.failed(ctx, a, userID, th, storage.EventSecondFactorFailed, "recovery code")
		return fmt.Errorf("totp: recovery code: %w", ErrInvalidCode)
	case err != nil:
		return fmt.Errorf("totp: consume recovery code: %w", err)
	}
	s.succeeded(ctx, userID)
	left, err := s.store.CountRecoveryCodes(ctx, userID)
	detail := ""
	if err == nil {
		detail = strconv.Itoa(left) + " left"
	}
	s.record(ctx, a, userID, storage.EventRecoveryCodeUsed, detail)
	return nil
}

// RegenerateRecoveryCodes replaces userID's recovery codes with a fresh set
// and returns it, formatted for display; the old codes stop working at once
// (SECURITY.md §19). Show the codes once: only their hashes are kept. It
// does not check a code itself — the handler of POST /totp/recovery-codes
// does, and an application calling it directly must require a recent
// authentication first. It returns [ErrNotEnabled] if userID has no
// confirmed second factor, and records
// [storage.EventRecoveryCodesRenewed].
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, a session.Audit, userID string) ([]string, error) {
	if _, err := s.confirmed(ctx, userID); err != nil {
		return nil, err
	}
	codes, hashes := newRecoveryCodes(s.codeCount)
	if err := s.store.ReplaceRecoveryCodes(ctx, userID, hashes); err != nil {
		return nil, fmt.Errorf("totp: store recovery codes: %w", err)
	}
	s.record(ctx, a, userID, storage.EventRecoveryCodesRenewed, strconv.Itoa(len(codes))+" codes")
	return codes, nil
}
