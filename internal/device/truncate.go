package device

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxUserAgent is the number of bytes of a User-Agent header worth keeping:
// real browsers send 100–300 bytes, so anything past 512 is padding or an
// attack. Callers store Truncate(ua, MaxUserAgent) (SECURITY.md §11).
const MaxUserAgent = 512

// Truncate cleans a client-supplied header value before it is stored or
// parsed. It
//   - replaces each invalid UTF-8 byte with U+FFFD,
//   - replaces a horizontal tab with a space,
//   - drops every other control character (Unicode Cc: NUL, CR, LF, DEL, C1),
//     format character (Cf: bidirectional overrides such as U+202E,
//     zero-width characters) and line or paragraph separator (U+2028,
//     U+2029), so the value can neither split a log line nor reorder the text
//     around it when displayed,
//   - and cuts the result to at most max bytes without splitting a character.
//
// It returns "" when max <= 0. It does not escape HTML: the value is text,
// and whoever renders it escapes it. Truncate is idempotent and allocates
// only when it changes s.
func Truncate(s string, max int) string {
	if max <= 0 {
		return ""
	}
	if clean(s) {
		if len(s) <= max {
			return s
		}
		// Printable ASCII: every byte is a character boundary.
		return s[:max]
	}
	var b strings.Builder
	b.Grow(min(len(s), max))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if r == '\t' {
			r = ' '
		}
		if dropped(r) {
			continue
		}
		// An invalid byte decodes as (RuneError, 1) and is written as the
		// three-byte U+FFFD.
		if b.Len()+utf8.RuneLen(r) > max {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

// clean reports whether s is printable ASCII only, the common case that
// needs no copy.
func clean(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

// dropped reports whether Truncate removes r.
func dropped(r rune) bool {
	if r < utf8.RuneSelf {
		return r < 0x20 || r == 0x7f
	}
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp)
}
