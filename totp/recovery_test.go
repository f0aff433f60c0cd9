package totp

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sessionguard/sessionguard/storage"
)

func TestRecoveryCodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// run uses codes and returns the error of the last attempt.
		run     func(ctx context.Context, svc *Service, codes []string) error
		wantErr error // nil: accepted
	}{
		{"a displayed code is accepted", func(ctx context.Context, svc *Service, codes []string) error {
			return svc.VerifyRecoveryCode(ctx, noAudit, "alice", codes[0])
		}, nil},
		{"an upper-case code without dashes is accepted", func(ctx context.Context, svc *Service, codes []string) error {
			return svc.VerifyRecoveryCode(ctx, noAudit, "alice", strings.ToUpper(strings.ReplaceAll(codes[1], "-", " ")))
		}, nil},
		{"a code used once is rejected the second time", func(ctx context.Context, svc *Service, codes []string) error {
			if err := svc.VerifyRecoveryCode(ctx, noAudit, "alice", codes[2]); err != nil {
				return err
			}
			return svc.VerifyRecoveryCode(ctx, noAudit, "alice", codes[2])
		}, ErrInvalidCode},
		{"a code used in another form is rejected the second time", func(ctx context.Context, svc *Service, codes []string) error {
			if err := svc.VerifyRecoveryCode(ctx, noAudit, "alice", codes[2]); err != nil {
				return err
			}
			return svc.VerifyRecoveryCode(ctx, noAudit, "alice", strings.ToUpper(codes[2]))
		}, ErrInvalidCode},
		{"a code from before a regeneration is rejected", func(ctx context.Context, svc *Service, codes []string) error {
			if _, err := svc.RegenerateRecoveryCodes(ctx, noAudit, "alice"); err != nil {
				return err
			}
			return svc.VerifyRecoveryCode(ctx, noAudit, "alice", codes[3])
		}, ErrInvalidCode},
		{"a code from after a regeneration is accepted", func(ctx context.Context, svc *Service, codes []string) error {
			fresh, err := svc.RegenerateRecoveryCodes(ctx, noAudit, "alice")
			if err != nil {
				return err
			}
			return svc.VerifyRecoveryCode(ctx, noAudit, "alice", fresh[0])
		}, nil},
		{"a well-formed unknown code is rejected", func(ctx context.Context, svc *Service, codes []string) error {
			return svc.VerifyRecoveryCode(ctx, noAudit, "alice", formatRecoveryCode(newRecoveryCode()))
		}, ErrInvalidCode},
		{"junk is rejected", func(ctx context.Context, svc *Service, codes []string) error {
			return svc.VerifyRecoveryCode(ctx, noAudit, "alice", "' OR 1=1 --")
		}, ErrInvalidCode},
		{"a TOTP code is rejected", func(ctx context.Context, svc *Service, codes []string) error {
			return svc.VerifyRecoveryCode(ctx, noAudit, "alice", "123456")
		}, ErrInvalidCode},
		{"another user's code is rejected", func(ctx context.Context, svc *Service, codes []string) error {
			return svc.VerifyRecoveryCode(ctx, noAudit, "bob", codes[4])
		}, ErrInvalidCode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newTestEnv(t, nil)
			_, codes := env.enroll(t, "alice")
			env.enroll(t, "bob")
			err := tt.run(context.Background(), env.svc, codes)
			if tt.wantErr == nil && err != nil {
				t.Fatalf("got %v, want nil", err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("got %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestRecoveryCodeUseIsRecordedAndCounted(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	ctx := context.Background()
	_, codes := env.enroll(t, "alice")
	if err := env.svc.VerifyRecoveryCode(ctx, noAudit, "alice", "nope"); !errors.Is(err, ErrInvalidCode) {
		t.Fatal(err)
	}
	if th := env.throttle(t, "alice"); th.Failures != 1 {
		t.Errorf("got %d failures after a wrong recovery code, want 1", th.Failures)
	}
	if err := env.svc.VerifyRecoveryCode(ctx, noAudit, "alice", codes[0]); err != nil {
		t.Fatal(err)
	}
	if th := env.throttle(t, "alice"); th != (storage.Throttle{}) {
		t.Errorf("got throttle %+v after a success, want it reset", th)
	}
	st, err := env.svc.Status(ctx, "alice")
	if err != nil || st.RecoveryCodesLeft != len(codes)-1 {
		t.Errorf("got %d codes left (%v), want %d", st.RecoveryCodesLeft, err, len(codes)-1)
	}
	evs, err := env.store.ListEvents(ctx, "alice", 0, 1)
	if err != nil || len(evs) != 1 || evs[0].Type != storage.EventRecoveryCodeUsed || evs[0].Detail != "9 left" {
		t.Errorf("got events %+v (%v), want recovery_code_used with detail %q", evs, err, "9 left")
	}
	if _, err := env.svc.RegenerateRecoveryCodes(ctx, noAudit, "alice"); err != nil {
		t.Fatal(err)
	}
	if got := env.countEvents(t, "alice", storage.EventRecoveryCodesRenewed); got != 1 {
		t.Errorf("got %d regeneration events, want 1", got)
	}
}

func TestRecoveryCodeUsedConcurrently(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, func(c *Config) {
		c.Policy = storage.AttemptPolicy{FreeAttempts: 100, BaseLockout: time.Second, MaxLockout: time.Second, MaxFailures: 100}
	})
	_, codes := env.enroll(t, "alice")
	expectOneWinner(t, 20, func() error { return env.svc.VerifyRecoveryCode(context.Background(), noAudit, "alice", codes[0]) })
}

// TestRecoveryCodesShareTheThrottle checks that alternating TOTP and
// recovery codes gains an attacker nothing, and that a locked-out user's
// right recovery code is refused like a wrong one.
func TestRecoveryCodesShareTheThrottle(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	ctx := context.Background()
	_, codes := env.enroll(t, "alice")
	for i := range DefaultPolicy().FreeAttempts {
		var err error
		if i%2 == 0 {
			err = env.svc.Verify(ctx, noAudit, "alice", "000000x")
		} else {
			err = env.svc.VerifyRecoveryCode(ctx, noAudit, "alice", "wrong")
		}
		if !errors.Is(err, ErrInvalidCode) {
			t.Fatalf("attempt %d: got %v, want ErrInvalidCode", i+1, err)
		}
	}
	if err := env.svc.VerifyRecoveryCode(ctx, noAudit, "alice", codes[0]); !errors.Is(err, ErrLocked) {
		t.Fatalf("right recovery code while locked: got %v, want ErrLocked", err)
	}
	env.clock.Advance(DefaultPolicy().BaseLockout)
	if err := env.svc.VerifyRecoveryCode(ctx, noAudit, "alice", codes[0]); err != nil {
		t.Fatalf("after the lockout: got %v, want nil (the locked attempt must not have used the code)", err)
	}
}

// failingDelete is a store whose credential deletion fails.
type failingDelete struct{ storage.Store }

func (failingDelete) DeleteTOTP(context.Context, string) error { return errors.New("test: outage") }

// TestDisableRemovesCodesFirst: if turning the second factor off fails
// half-way, the old recovery codes are already gone, so they can never
// pair with a later enrollment.
func TestDisableRemovesCodesFirst(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	_, codes := env.enroll(t, "alice")
	broken := env.withStore(t, failingDelete{env.store})
	if err := broken.Disable(context.Background(), noAudit, "alice"); err == nil {
		t.Fatal("Disable succeeded on a failing store")
	}
	if n, err := env.store.CountRecoveryCodes(context.Background(), "alice"); err != nil || n != 0 {
		t.Errorf("after a failed Disable: %d recovery codes left (%v), want 0", n, err)
	}
	if err := env.svc.VerifyRecoveryCode(context.Background(), noAudit, "alice", codes[0]); !errors.Is(err, ErrInvalidCode) {
		t.Errorf("an old recovery code after a failed Disable: got %v, want ErrInvalidCode", err)
	}
}
