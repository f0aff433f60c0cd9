package totp

import (
	"encoding/base32"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// TestRFC6238Vectors checks code generation and the time-step computation
// against RFC 6238 Appendix B (SHA-1 rows, 8 digits, secret
// "12345678901234567890").
func TestRFC6238Vectors(t *testing.T) {
	t.Parallel()
	secret := base32.StdEncoding.EncodeToString([]byte("12345678901234567890"))
	tests := []struct {
		name string
		unix int64
		step int64
		code string
	}{
		{"the first step after the epoch gives 94287082", 59, 0x1, "94287082"},
		{"2005-03-18 01:58:29 gives 07081804", 1111111109, 0x23523EC, "07081804"},
		{"2005-03-18 01:58:31 gives 14050471", 1111111111, 0x23523ED, "14050471"},
		{"2009-02-13 23:31:30 gives 89005924", 1234567890, 0x273EF07, "89005924"},
		{"2033-05-18 03:33:20 gives 69279037", 2000000000, 0x3F940AA, "69279037"},
		{"2603-10-11 11:33:20 gives 65353130", 20000000000, 0x27BC86AA, "65353130"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			at := time.Unix(tt.unix, 0).UTC()
			if got := stepAt(at); got != tt.step {
				t.Errorf("stepAt = %#x, want %#x", got, tt.step)
			}
			got, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsEight, Algorithm: otp.AlgorithmSHA1})
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.code {
				t.Errorf("code = %s, want %s", got, tt.code)
			}
			// The 6-digit code used in production is the last 6 digits
			// (RFC 4226 §5.3: the value modulo 10^Digits).
			six, err := codeAt(secret, tt.step)
			if err != nil {
				t.Fatal(err)
			}
			if want := tt.code[2:]; six != want {
				t.Errorf("6-digit code = %s, want %s", six, want)
			}
		})
	}
}

func TestNormalizeCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string // "" means rejected
	}{
		{"six digits are kept", "123456", "123456"},
		{"a leading zero is kept", "012345", "012345"},
		{"a space in the middle is removed", "123 456", "123456"},
		{"surrounding spaces and tabs are removed", " \t123456 ", "123456"},
		{"five digits are rejected", "12345", ""},
		{"seven digits are rejected", "1234567", ""},
		{"an empty string is rejected", "", ""},
		{"only spaces are rejected", "      ", ""},
		{"full-width digits are rejected", "１２３４５６", ""},
		{"Arabic-Indic digits are rejected", "١٢٣٤٥٦", ""},
		{"letters are rejected", "12345a", ""},
		{"a dash is rejected", "123-456", ""},
		{"a no-break space is rejected", "123\u00a0456", ""},
		{"a newline is rejected", "123456\n", ""},
		{"a NUL byte is rejected", "123456\x00", ""},
		{"a sign is rejected", "+123456", ""},
		{"a long input of spaces around six digits is rejected", strings.Repeat(" ", 200) + "123456", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := normalizeCode(tt.in)
			if ok != (tt.want != "") || got != tt.want {
				t.Errorf("normalizeCode(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.want != "")
			}
		})
	}
}

func FuzzNormalizeCode(f *testing.F) {
	for _, s := range []string{"123456", "123 456", "12345", "１２３４５６", "\t000000 ", "1234567", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, ok := normalizeCode(in)
		if !ok {
			if got != "" {
				t.Fatalf("rejected input returned %q", got)
			}
			return
		}
		if len(got) != Digits {
			t.Fatalf("normalizeCode(%q) = %q: got %d bytes, want %d", in, got, len(got), Digits)
		}
		for i := 0; i < len(got); i++ {
			if got[i] < '0' || got[i] > '9' {
				t.Fatalf("normalizeCode(%q) = %q: not ASCII digits", in, got)
			}
		}
		// Only spaces and tabs were removed, nothing was changed.
		if stripped := strings.NewReplacer(" ", "", "\t", "").Replace(in); stripped != got {
			t.Fatalf("normalizeCode(%q) = %q, want %q", in, got, stripped)
		}
		// Idempotent.
		if again, ok := normalizeCode(got); !ok || again != got {
			t.Fatalf("normalizeCode(%q) = %q, %v; want %q, true", got, again, ok, got)
		}
	})
}

func TestMatch(t *testing.T) {
	t.Parallel()
	secret := []byte("12345678901234567890")
	b := b32.EncodeToString(secret)
	now := testEpoch
	cur := stepAt(now)
	codeFor := func(step int64) string {
		c, err := codeAt(b, step)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	tests := []struct {
		name     string
		code     string
		skew     int64
		last     int64
		wantRes  matchResult
		wantStep int64
	}{
		{"the current code matches the current step", codeFor(cur), 1, 0, matched, cur},
		{"the previous code matches with skew 1", codeFor(cur - 1), 1, 0, matched, cur - 1},
		{"the next code matches with skew 1", codeFor(cur + 1), 1, 0, matched, cur + 1},
		{"a code two steps old does not match", codeFor(cur - 2), 1, 0, noMatch, 0},
		{"a code two steps ahead does not match", codeFor(cur + 2), 1, 0, noMatch, 0},
		{"the previous code does not match without skew", codeFor(cur - 1), 0, 0, noMatch, 0},
		{"the current code of an accepted step is a replay", codeFor(cur), 1, cur, replayed, 0},
		{"the previous code after the current step was accepted is a replay", codeFor(cur - 1), 1, cur, replayed, 0},
		{"the next code after the current step was accepted matches", codeFor(cur + 1), 1, cur, matched, cur + 1},
		{"a wrong code does not match", "000000", 1, 0, noMatch, 0},
	}
	// Guard the table: "000000" must not be a real code in the window.
	for st := cur - 2; st <= cur+2; st++ {
		if codeFor(st) == "000000" {
			t.Fatal("test secret has code 000000 in the window; pick another epoch")
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			step, res, err := match(secret, tt.code, now, tt.skew, tt.last)
			if err != nil {
				t.Fatal(err)
			}
			if res != tt.wantRes || step != tt.wantStep {
				t.Errorf("got step %d result %d, want step %d result %d", step, res, tt.wantStep, tt.wantRes)
			}
		})
	}
}

func TestRecoveryCodeFormat(t *testing.T) {
	t.Parallel()
	codes, hashes := newRecoveryCodes(50)
	seen := map[string]bool{}
	for i, c := range codes {
		if len(c) != recoveryFormatLen || strings.Count(c, "-") != recoveryCodeLen/recoveryGroupLen-1 {
			t.Fatalf("code %q: got length %d, want %d in groups of %d", c, len(c), recoveryFormatLen, recoveryGroupLen)
		}
		canonical, ok := normalizeRecoveryCode(c)
		if !ok {
			t.Fatalf("a displayed code does not normalise: %q", c)
		}
		if hashRecoveryCode(canonical) != hashes[i] {
			t.Fatalf("code %d: hash of the displayed code differs from the stored hash", i)
		}
		if seen[canonical] {
			t.Fatalf("duplicate code %q", c)
		}
		seen[canonical] = true
	}
	// 28 characters of 5 bits: at least the 128 bits SECURITY.md §19
	// recommends.
	if bits := recoveryCodeLen * 5; bits < 128 {
		t.Errorf("got %d bits per code, want at least 128", bits)
	}
}

func TestNormalizeRecoveryCode(t *testing.T) {
	t.Parallel()
	const canon = "abcdefghijklmnopqrstuvwxyz23"
	tests := []struct {
		name string
		in   string
		want string // "" means rejected
	}{
		{"the displayed form normalises", "abcd-efgh-ijkl-mnop-qrst-uvwx-yz23", canon},
		{"upper case is folded", "ABCD-EFGH-IJKL-MNOP-QRST-UVWX-YZ23", canon},
		{"spaces instead of dashes are accepted", "abcd efgh ijkl mnop qrst uvwx yz23", canon},
		{"no separators at all are accepted", canon, canon},
		{"stray separators are ignored", " -abcd--efgh ijkl\tmnop-qrst-uvwx-yz23- ", canon},
		{"a missing character is rejected", "abcd-efgh-ijkl-mnop-qrst-uvwx-yz2", ""},
		{"an extra character is rejected", "abcd-efgh-ijkl-mnop-qrst-uvwx-yz234", ""},
		{"a digit outside the alphabet is rejected", "abcd-efgh-ijkl-mnop-qrst-uvwx-yz28", ""},
		{"a zero is rejected", "abcd-efgh-ijkl-mnop-qrst-uvwx-yz20", ""},
		{"non-ASCII letters are rejected", "ábcd-efgh-ijkl-mnop-qrst-uvwx-yz23", ""},
		{"full-width letters are rejected", "ａbcd-efgh-ijkl-mnop-qrst-uvwx-yz23", ""},
		{"an underscore is rejected", "abcd_efgh-ijkl-mnop-qrst-uvwx-yz23", ""},
		{"an empty string is rejected", "", ""},
		{"a TOTP code is rejected", "123456", ""},
		{"a very long input is rejected", strings.Repeat("-", 200) + canon, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := normalizeRecoveryCode(tt.in)
			if ok != (tt.want != "") || got != tt.want {
				t.Errorf("normalizeRecoveryCode(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.want != "")
			}
		})
	}
}

func FuzzNormalizeRecoveryCode(f *testing.F) {
	for _, s := range []string{
		"abcd-efgh-ijkl-mnop-qrst-uvwx-yz23", "ABCD EFGH IJKL MNOP QRST UVWX YZ23",
		"abcdefghijklmnopqrstuvwxyz23", "abcd-efgh", "ａbcd-efgh-ijkl-mnop-qrst-uvwx-yz23", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, ok := normalizeRecoveryCode(in)
		if !ok {
			if got != "" {
				t.Fatalf("rejected input returned %q", got)
			}
			return
		}
		if len(got) != recoveryCodeLen || !utf8.ValidString(got) {
			t.Fatalf("normalizeRecoveryCode(%q) = %q: got %d bytes, want %d", in, got, len(got), recoveryCodeLen)
		}
		for i := 0; i < len(got); i++ {
			if !strings.ContainsRune(recoveryAlphabet, rune(got[i])) {
				t.Fatalf("normalizeRecoveryCode(%q) = %q: %q is outside the alphabet", in, got, got[i])
			}
		}
		// Only case and separators changed.
		if stripped := strings.NewReplacer(" ", "", "\t", "", "-", "").Replace(strings.ToLower(in)); stripped != got {
			t.Fatalf("normalizeRecoveryCode(%q) = %q, want %q", in, got, stripped)
		}
		// The displayed form of the result normalises back to it.
		if again, ok := normalizeRecoveryCode(formatRecoveryCode(got)); !ok || again != got {
			t.Fatalf("round trip of %q: got %q, %v", got, again, ok)
		}
	})
}
