package postgres

import (
	"strconv"
	"strings"
	"testing"
	"time"

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
			// As an earlier version sent it: no time.
			p := encodePayload(tt.in.TokenHash, tt.in.UserID)
			if got := decodePayload(p); got != tt.in {
				t.Errorf("without a time: got %+v, want %+v", got, tt.in)
			}
			// As sqlPayload and sqlStamp send it, with the latest time
			// an int64 holds (the longest prefix).
			want := tt.in
			want.CommittedAt = time.UnixMicro(1<<63 - 1)
			p = stamp(want.CommittedAt, p)
			if len(p) > maxPayload {
				t.Fatalf("payload of %d bytes, want at most %d", len(p), maxPayload)
			}
			if got := decodePayload(p); got != want {
				t.Errorf("with a time: got %+v, want %+v", got, want)
			}
		})
	}
}

// stamp prefixes payload with at as the SQL of sqlStamp does.
func stamp(at time.Time, payload string) string {
	return "t" + strconv.FormatInt(at.UnixMicro(), 10) + ":" + payload
}

func TestEarlierVersionsResetOnATimedPayload(t *testing.T) {
	t.Parallel()
	// An earlier version decoded only "<64 hex>:<user>" and ":<user>":
	// a payload whose first colon is elsewhere was a Reset.
	h := storage.HashToken([]byte("token"))
	for _, p := range []string{stamp(time.UnixMicro(1), h.String()+":alice"), stamp(time.Now(), ":alice")} {
		if i := strings.IndexByte(p, ':'); i == 0 || i == 2*len(h) {
			t.Errorf("an earlier version decodes %q as a notice (first colon at %d), want a Reset", p, i)
		}
	}
}

func TestPayloadFailsSafe(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("u", maxPayloadUserID+1)
	h := storage.HashToken([]byte("token"))
	if got := encodePayload(h, long); got != resetPayload {
		t.Errorf("payload for a user ID too long to send: got %q, want %q", got, resetPayload)
	}
	for _, p := range []string{
		"", "*", "alice", "abc:alice", strings.Repeat("z", 64) + ":alice", h.String() + "alice",
		"t", "t:", "t::alice", "t1700000000000000", "t1700000000000000:", "t1700000000000000:*",
		"tsoon::alice", "t-1::alice", "t+1::alice", "t01::alice", "t0::alice", "t99999999999999999999::alice",
		"t1700000000000000:" + h.String() + "alice", "t1700000000000000:t1700000000000000::alice",
	} {
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
	f.Add("t1700000000123456:" + h.String() + ":alice")
	f.Add("t1700000000123456::urn:user:42")
	f.Add("t9223372036854775807::alice")
	f.Add("t9223372036854775808::alice")
	f.Add("t0::alice")
	f.Add("t:")
	f.Fuzz(func(t *testing.T, p string) {
		r := decodePayload(p)
		if r.Reset {
			if r != (storage.Revocation{Reset: true}) {
				t.Fatalf("decodePayload(%q) = %+v: a Reset with fields", p, r)
			}
			return
		}
		// Whatever decodes survives a round trip unchanged, its time
		// written the one way the statements write it.
		q := encodePayload(r.TokenHash, r.UserID)
		if !r.CommittedAt.IsZero() {
			q = stamp(r.CommittedAt, q)
			if !strings.HasPrefix(p, q[:strings.IndexByte(q, ':')+1]) {
				t.Errorf("decodePayload(%q) = %+v, whose time encodes as %q", p, r, q)
			}
		}
		if got := decodePayload(q); got != r {
			t.Errorf("decodePayload(%q) = %+v, which round-trips to %+v", p, r, got)
		}
	})
}
