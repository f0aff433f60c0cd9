package device

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTruncate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		s    string
		max  int
		want string
	}{
		{"a clean short value is unchanged", "curl/8.5.0", 512, "curl/8.5.0"},
		{"a clean value of exactly max bytes is unchanged", "abcd", 4, "abcd"},
		{"a clean long value is cut to max bytes", "abcdef", 4, "abcd"},
		{"a zero max gives the empty string", "abc", 0, ""},
		{"a negative max gives the empty string", "abc", -1, ""},
		{"the empty string stays empty", "", 10, ""},
		{"CR and LF are dropped", "a\r\nb", 10, "ab"},
		{"NUL is dropped", "a\x00b", 10, "ab"},
		{"DEL is dropped", "a\x7fb", 10, "ab"},
		{"C1 controls are dropped", "a\u0085b\u009bc", 10, "abc"},
		{"a tab becomes a space", "a\tb", 10, "a b"},
		{"a bidirectional override is dropped", "abc\u202edef\u202c", 20, "abcdef"},
		{"zero-width characters are dropped", "a\u200bb\ufeffc", 20, "abc"},
		{"line and paragraph separators are dropped", "a\u2028b\u2029c", 20, "abc"},
		{"an invalid byte becomes U+FFFD", "a\xffb", 10, "a\ufffdb"},
		{"a truncated sequence becomes U+FFFD", "a\xe2\x82", 10, "a\ufffd\ufffd"},
		{"non-ASCII text is kept", "Zürich 東京", 20, "Zürich 東京"},
		{"a cut never splits a character", "aé", 2, "a"},
		{"a cut never splits a three-byte character", "ab東", 4, "ab"},
		{"a replacement character that does not fit is left out", "ab\xff", 4, "ab"},
		{"dropped characters do not count towards max", "\r\n\r\nabcd", 4, "abcd"},
		{"markup is kept as text", "<script>alert(1)</script>", 100, "<script>alert(1)</script>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Truncate(tt.s, tt.max); got != tt.want {
				t.Errorf("Truncate(%q, %d) = %q, want %q", tt.s, tt.max, got, tt.want)
			}
		})
	}
}

// Not parallel: AllocsPerRun refuses to run in a parallel test.
func TestTruncateDoesNotCopyCleanInput(t *testing.T) {
	s := strings.Repeat("Mozilla/5.0 ", 100)
	if allocs := testing.AllocsPerRun(100, func() { Truncate(s, MaxUserAgent) }); allocs != 0 {
		t.Errorf("Truncate of clean ASCII allocated %v times, want 0", allocs)
	}
}

func FuzzTruncate(f *testing.F) {
	for _, s := range []string{"", "curl/8.5.0", "a\r\nb", "\xff\xfe", "é東\u202e", "\t\x00\x7f\u0085"} {
		f.Add(s, 8)
	}
	f.Fuzz(func(t *testing.T, s string, max int) {
		max %= 1 << 12
		got := Truncate(s, max)
		if len(got) > max && !(max <= 0 && got == "") {
			t.Errorf("Truncate(%q, %d) = %q, %d bytes, want at most %d", s, max, got, len(got), max)
		}
		if !utf8.ValidString(got) {
			t.Errorf("Truncate(%q, %d) = %q, not valid UTF-8", s, max, got)
		}
		for _, r := range got {
			if dropped(r) || r == '\t' {
				t.Errorf("Truncate(%q, %d) = %q, holds %U", s, max, got, r)
			}
		}
		if again := Truncate(got, max); again != got {
			t.Errorf("Truncate(Truncate(%q, %d)) = %q, want the idempotent %q", s, max, again, got)
		}
		// Without a cut, nothing printable is lost.
		if max >= 3*len(s) {
			want := strings.Map(func(r rune) rune {
				switch {
				case r == '\t':
					return ' '
				case dropped(r):
					return -1
				}
				return r
			}, strings.ToValidUTF8(s, "\x00"))
			// ToValidUTF8 merges a run of invalid bytes into one
			// replacement; compare only valid inputs exactly.
			if utf8.ValidString(s) && got != want {
				t.Errorf("Truncate(%q, %d) = %q, want %q", s, max, got, want)
			}
		}
	})
}
