package postgres

import (
	"strings"
	"testing"

	"github.com/sessionguard/sessionguard/storage"
)

func TestPayloadRoundTrip(t *testing.T) {
	t.Parallel()
	h := storage.HashToken([]byte("token"))
	tests := []struct {
		name string
		in   storage.Revocation
	}{
		{"one session of a plain user", storage.Revocation{UserID: "alice", TokenHash: h}},
		{"all of a user's sessions", storage.Revocation{UserID: "alice"}},
		{"a user ID with colons", storage.Revocation{UserID: "urn:user:42:", TokenHash: h}},
		{"a user ID that looks like a payload", storage.Revocation{UserID: h.String() + ":x"}},
		{"an empty user ID", storage.Revocation{TokenHash: h}},
		{"a non-ASCII user ID", storage.Revocation{UserID: "Zoë 🐘"}},
		{"the longest user ID that fits", storage.Revocation{UserID: strings.Repeat("u", maxPayloadUserID), TokenHash: h}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := encodePayload(tt.in.TokenHash, tt.in.UserID)
			if len(p) > maxPayload {
				t.Fatalf("payload of %d bytes, want at most %d", len(p), maxPayload)
			}
			if got := decodePayload(p); got != tt.in {
				t.Errorf("got %+v, want %+v", got, tt.in)
			}
		})
	}
}

func TestPayloadFailsSafe(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("u", maxPayloadUserID+1)
	h := storage.HashToken([]byte("token"))
	if got := encodePayload(h, long); got != resetPayload {
		t.Errorf("payload for a user ID too long to send: got %q, want %q", got, resetPayload)
	}
	for _, p := range []string{"", "*", "alice", "abc:alice", strings.Repeat("z", 64) + ":alice", h.String() + "alice"} {
		if got := decodePayload(p); !got.Reset {
			t.Errorf("decodePayload(%q): got %+v, want a Reset", p, got)
		}
	}
}

func FuzzDecodePayload(f *testing.F) {
	h := storage.HashToken([]byte("token"))
	f.Add(h.String() + ":alice")
	f.Add(":alice")
	f.Add("*")
	f.Fuzz(func(t *testing.T, p string) {
		r := decodePayload(p)
		if r.Reset {
			return
		}
		// Whatever decodes survives a round trip unchanged.
		if got := decodePayload(encodePayload(r.TokenHash, r.UserID)); got != r {
			t.Errorf("decodePayload(%q) = %+v, which round-trips to %+v", p, r, got)
		}
	})
}
