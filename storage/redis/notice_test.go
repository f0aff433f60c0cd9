package redis

import (
	"strings"
	"testing"
	"time"

	"github.com/sessionguard/sessionguard/storage"
)

func TestParseRevocation(t *testing.T) {
	h, err := storage.ParseTokenHash(strings.Repeat("ab", 32))
	if err != nil {
		t.Fatal(err)
	}
	at := time.UnixMicro(1_700_000_000_123_456)
	tests := []struct {
		name    string
		payload string
		want    storage.Revocation
	}{
		{"a timed notice of one session is read with its time", "t1700000000123456|" + h.String() + "|alice", storage.Revocation{UserID: "alice", TokenHash: h, CommittedAt: at}},
		{"a timed notice of a whole user is read with its time", "t1700000000123456||alice", storage.Revocation{UserID: "alice", CommittedAt: at}},
		{"a user ID holding separators is kept whole", "t1700000000123456||a|b|t1", storage.Revocation{UserID: "a|b|t1", CommittedAt: at}},
		{"an earlier version's notice of one session is read without a time", h.String() + "|alice", storage.Revocation{UserID: "alice", TokenHash: h}},
		{"an earlier version's notice of a whole user is read without a time", "|alice", storage.Revocation{UserID: "alice"}},
		{"a notice without a separator is a reset", "no separator", storage.Revocation{Reset: true}},
		{"a token hash that is not hex is a reset", "nothex|user", storage.Revocation{Reset: true}},
		{"a time without the rest is a reset", "t1700000000123456", storage.Revocation{Reset: true}},
		{"a time without its user is a reset", "t1700000000123456|" + h.String(), storage.Revocation{Reset: true}},
		{"a time that is not a number is a reset", "tsoon||alice", storage.Revocation{Reset: true}},
		{"a negative time is a reset", "t-5||alice", storage.Revocation{Reset: true}},
		{"an empty time is a reset", "t||alice", storage.Revocation{Reset: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseRevocation(tt.payload); got != tt.want {
				t.Errorf("parseRevocation(%q): got %+v, want %+v", tt.payload, got, tt.want)
			}
		})
	}
}

// TestEarlierVersionsResetOnATimedNotice checks what an instance of an
// earlier version (which splits a notice at its first '|' and parses the
// left part as a token hash) makes of a timed notice during a rolling
// upgrade: the left part never parses, so it reads a Reset and drops its
// cache, which is safe.
func TestEarlierVersionsResetOnATimedNotice(t *testing.T) {
	h, err := storage.ParseTokenHash(strings.Repeat("0", 64))
	if err != nil {
		t.Fatal(err)
	}
	for _, payload := range []string{"t1700000000123456|" + h.String() + "|alice", "t1700000000123456||alice"} {
		left, _, _ := strings.Cut(payload, "|")
		if _, err := storage.ParseTokenHash(left); err == nil {
			t.Errorf("an earlier version reads the token hash of %q: got no error, want one (a Reset)", payload)
		}
	}
}

func FuzzParseRevocation(f *testing.F) {
	f.Add("t1700000000123456|" + strings.Repeat("ab", 32) + "|alice")
	f.Add("t1700000000123456||alice")
	f.Add(strings.Repeat("ab", 32) + "|alice")
	f.Add("|alice")
	f.Add("t|")
	f.Add("t99999999999999999999||x")
	f.Fuzz(func(t *testing.T, payload string) {
		r := parseRevocation(payload)
		if r.Reset {
			if r != (storage.Revocation{Reset: true}) {
				t.Fatalf("parseRevocation(%q): a Reset with fields: %+v", payload, r)
			}
			return
		}
		if !strings.HasSuffix(payload, "|"+r.UserID) {
			t.Fatalf("parseRevocation(%q): user ID %q is not the payload's tail", payload, r.UserID)
		}
		if strings.HasPrefix(payload, "t") == r.CommittedAt.IsZero() {
			t.Fatalf("parseRevocation(%q): CommittedAt %v does not match the payload's form", payload, r.CommittedAt)
		}
	})
}
