package passkey_test

import (
	"context"
	"errors"
	"testing"

	"github.com/sessionguard/sessionguard/passkey"
	"github.com/sessionguard/sessionguard/session"
)

// FuzzFinishAnswers: whatever a client sends as the authenticator's
// answer to a live challenge, FinishLogin and FinishRegistration refuse it
// with ErrInvalid (never a panic, never a success, never a storage error).
func FuzzFinishAnswers(f *testing.F) {
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"AAAA","signature":"AAAA"}}`))
	f.Add([]byte(`{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{"clientDataJSON":"e30","attestationObject":"oA"}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, answer []byte) {
		app := newTestApp(t)
		ctx := context.Background()
		id, _, err := app.svc.BeginLogin(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := app.svc.FinishLogin(ctx, session.Audit{}, "", id, answer); !errors.Is(err, passkey.ErrInvalid) {
			t.Errorf("FinishLogin(%q): got %v, want ErrInvalid", answer, err)
		}
		id, _, err = app.svc.BeginRegistration(ctx, "alice", "Key")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := app.svc.FinishRegistration(ctx, session.Audit{}, "alice", id, answer); !errors.Is(err, passkey.ErrInvalid) {
			t.Errorf("FinishRegistration(%q): got %v, want ErrInvalid", answer, err)
		}
	})
}
