package totp

import (
	"bytes"
	"context"
	"encoding/base32"
	"errors"
	"image/png"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"

	"github.com/sessionguard/sessionguard/storage"
)

func TestNewRefusesBadConfig(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	good := func() Config {
		return Config{Manager: env.mgr, Store: env.store, Issuer: "Example", Keys: []Key{randomKey(t, "a")}}
	}
	k1 := randomKey(t, "a")
	tests := []struct {
		name string
		edit func(*Config)
	}{
		{"a missing manager is refused", func(c *Config) { c.Manager = nil }},
		{"a missing store is refused", func(c *Config) { c.Store = nil }},
		{"a missing issuer is refused", func(c *Config) { c.Issuer = " " }},
		{"an issuer with a colon is refused", func(c *Config) { c.Issuer = "a:b" }},
		{"missing keys are refused", func(c *Config) { c.Keys = nil }},
		{"a short key is refused", func(c *Config) { c.Keys = []Key{{ID: "a", Secret: make([]byte, 16)}} }},
		{"a long key is refused", func(c *Config) { c.Keys = []Key{{ID: "a", Secret: make([]byte, 64)}} }},
		{"an all-zero key is refused", func(c *Config) { c.Keys = []Key{{ID: "a", Secret: make([]byte, KeySize)}} }},
		{"a key without ID is refused", func(c *Config) { c.Keys = []Key{randomKey(t, "")} }},
		{"duplicate key IDs are refused", func(c *Config) { c.Keys = []Key{randomKey(t, "a"), randomKey(t, "a")} }},
		{"a duplicate key secret is refused", func(c *Config) { c.Keys = []Key{k1, {ID: "b", Secret: k1.Secret}} }},
		{"a skew of 2 is refused", func(c *Config) { c.Skew = 2 }},
		{"a skew of -2 is refused", func(c *Config) { c.Skew = -2 }},
		{"a policy above 100 failures is refused", func(c *Config) { c.Policy = DefaultPolicy(); c.Policy.MaxFailures = 101 }},
		{"a policy without free attempts is refused", func(c *Config) { c.Policy = DefaultPolicy(); c.Policy.FreeAttempts = 0 }},
		{"a policy with a zero lockout is refused", func(c *Config) { c.Policy = storage.AttemptPolicy{FreeAttempts: 1, MaxFailures: 10} }},
		{"a negative recovery code count is refused", func(c *Config) { c.RecoveryCodeCount = -1 }},
		{"more than 100 recovery codes are refused", func(c *Config) { c.RecoveryCodeCount = 101 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := good()
			tt.edit(&cfg)
			if _, err := New(cfg); err == nil {
				t.Error("got nil error, want one")
			} else if !strings.HasPrefix(err.Error(), "totp: ") {
				t.Errorf("got error %q, want the prefix \"totp: \"", err)
			}
		})
	}
	t.Run("the defaults are filled in", func(t *testing.T) {
		t.Parallel()
		svc, err := New(good())
		if err != nil {
			t.Fatal(err)
		}
		if svc.skew != 1 || svc.policy != DefaultPolicy() || svc.codeCount != 10 || svc.store == nil || svc.now == nil || svc.logger == nil {
			t.Errorf("got skew %d policy %+v codes %d, clock set %v, logger set %v; want 1, %+v, 10, true, true",
				svc.skew, svc.policy, svc.codeCount, svc.now != nil, svc.logger != nil, DefaultPolicy())
		}
	})
	t.Run("changing a key after New changes nothing", func(t *testing.T) {
		t.Parallel()
		env := newTestEnv(t, nil)
		secret, _ := env.enroll(t, "alice")
		for i := range env.keys[0].Secret {
			env.keys[0].Secret[i] ^= 0xff
		}
		if err := env.svc.Verify(context.Background(), noAudit, "alice", env.code(t, secret, 0)); err != nil {
			t.Errorf("Verify after the caller changed its key slice: %v", err)
		}
	})
}

func TestEnrollment(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, func(c *Config) {
		c.AccountName = func(_ context.Context, id string) (string, error) { return id + "@example.com", nil }
	})
	ctx := context.Background()
	en, err := env.svc.Enroll(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(en.Secret)
	if err != nil || len(raw) != SecretSize {
		t.Fatalf("secret decodes to %d bytes (err %v), want %d", len(raw), err, SecretSize)
	}
	key, err := otp.NewKeyFromURL(en.URL)
	if err != nil {
		t.Fatal(err)
	}
	if key.Type() != "totp" || key.Issuer() != "Example" || key.AccountName() != "alice@example.com" ||
		key.Secret() != en.Secret || key.Digits() != otp.DigitsSix || key.Period() != 30 || key.Algorithm() != otp.AlgorithmSHA1 {
		t.Errorf("got key %s, want a 6-digit 30 s SHA-1 TOTP key for Example:alice@example.com", key.String())
	}
	img, err := png.Decode(bytes.NewReader(en.QRPNG))
	if err != nil {
		t.Fatalf("QR code is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != qrSize || b.Dy() != qrSize {
		t.Errorf("got QR %v, want %dx%d", b, qrSize, qrSize)
	}
	st, err := env.svc.Status(ctx, "alice")
	if err != nil || st != (Status{Pending: true}) {
		t.Fatalf("got status %+v, %v; want pending", st, err)
	}
	if on, err := env.svc.Enabled(ctx, "alice"); on || err != nil {
		t.Fatalf("Enabled before confirmation = %v, %v; want false, nil", on, err)
	}

	// A second enrollment replaces the pending secret: the first one's
	// codes no longer confirm.
	en2, err := env.svc.Enroll(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if en2.Secret == en.Secret {
		t.Fatal("second enrollment returned the same secret")
	}
	if _, err := env.svc.Confirm(ctx, noAudit, "alice", env.code(t, en.Secret, 0)); !errors.Is(err, ErrInvalidCode) {
		t.Fatalf("Confirm with the replaced secret: got %v, want ErrInvalidCode", err)
	}
	if _, err := env.svc.Confirm(ctx, noAudit, "alice", "12 34"); !errors.Is(err, ErrInvalidCode) {
		t.Fatalf("Confirm with junk: got %v, want ErrInvalidCode", err)
	}
	confirmCode := env.code(t, en2.Secret, 0)
	codes, err := env.svc.Confirm(ctx, noAudit, "alice", confirmCode)
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != DefaultRecoveryCodeCount {
		t.Errorf("got %d recovery codes, want %d", len(codes), DefaultRecoveryCodeCount)
	}
	if th := env.throttle(t, "alice"); th != (storage.Throttle{}) {
		t.Errorf("got throttle %+v after a confirmation, want it reset", th)
	}
	st, err = env.svc.Status(ctx, "alice")
	if err != nil || st != (Status{Enabled: true, RecoveryCodesLeft: 10}) {
		t.Fatalf("got status %+v, %v; want enabled with 10 codes", st, err)
	}
	if got := env.countEvents(t, "alice", storage.EventSecondFactorEnabled); got != 1 {
		t.Errorf("got %d second_factor_enabled events, want 1", got)
	}

	// The confirmation code is used up: it cannot also sign in.
	if err := env.svc.Verify(ctx, noAudit, "alice", confirmCode); !errors.Is(err, ErrReplay) {
		t.Errorf("Verify with the confirmation code: got %v, want ErrReplay", err)
	}
	// A confirmed secret is never shown again.
	if _, err := env.svc.Enroll(ctx, "alice"); !errors.Is(err, ErrAlreadyEnabled) {
		t.Errorf("second Enroll: got %v, want ErrAlreadyEnabled", err)
	}
	if _, err := env.svc.Confirm(ctx, noAudit, "alice", confirmCode); !errors.Is(err, ErrAlreadyEnabled) {
		t.Errorf("second Confirm: got %v, want ErrAlreadyEnabled", err)
	}
	if _, err := env.svc.Confirm(ctx, noAudit, "bob", confirmCode); !errors.Is(err, ErrNoPending) {
		t.Errorf("Confirm without enrollment: got %v, want ErrNoPending", err)
	}
}

func TestConfirmUndoesAConcurrentlyReplacedEnrollment(t *testing.T) {
	t.Parallel()
	var env *testEnv
	hs := &hookStore{}
	env = newTestEnv(t, func(c *Config) { c.Store = hs })
	hs.Store = env.store
	ctx := context.Background()
	en, err := env.svc.Enroll(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	hs.beforeConfirm = func() {
		// Another tab enrolls again between the check and the confirmation.
		if _, err := env.svc.Enroll(ctx, "alice"); err != nil {
			t.Error(err)
		}
	}
	if _, err := env.svc.Confirm(ctx, noAudit, "alice", env.code(t, en.Secret, 0)); !errors.Is(err, ErrNoPending) {
		t.Fatalf("got %v, want ErrNoPending", err)
	}
	if on, err := env.svc.Enabled(ctx, "alice"); on || err != nil {
		t.Errorf("got enabled %v, %v; want a secret the user does not hold left disabled", on, err)
	}
}

func TestVerifyTimeWindow(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		skew   int
		offset int64
		accept bool
	}{
		{"the current step is accepted", 0, 0, true},
		{"one step back is accepted", 0, -1, true},
		{"one step ahead is accepted", 0, 1, true},
		{"two steps back are rejected", 0, -2, false},
		{"two steps ahead are rejected", 0, 2, false},
		{"one step back is rejected without skew", NoSkew, -1, false},
		{"one step ahead is rejected without skew", NoSkew, 1, false},
		{"the current step is accepted without skew", NoSkew, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newTestEnv(t, func(c *Config) { c.Skew = tt.skew })
			secret, _ := env.enroll(t, "alice")
			err := env.svc.Verify(context.Background(), noAudit, "alice", env.code(t, secret, tt.offset))
			if tt.accept && err != nil {
				t.Errorf("got %v, want nil", err)
			}
			if !tt.accept && !errors.Is(err, ErrInvalidCode) {
				t.Errorf("got %v, want ErrInvalidCode", err)
			}
		})
	}
}

func TestVerifyRejectsReplays(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	ctx := context.Background()
	secret, _ := env.enroll(t, "alice")
	code := env.code(t, secret, 0)
	if err := env.svc.Verify(ctx, noAudit, "alice", code); err != nil {
		t.Fatalf("first use: %v", err)
	}
	err := env.svc.Verify(ctx, noAudit, "alice", code)
	if !errors.Is(err, ErrReplay) || !errors.Is(err, ErrInvalidCode) {
		t.Fatalf("second use: got %v, want ErrReplay matching ErrInvalidCode", err)
	}
	// Still within the window 29 s later: still a replay.
	env.clock.Advance(29 * time.Second)
	if err := env.svc.Verify(ctx, noAudit, "alice", code); !errors.Is(err, ErrReplay) {
		t.Fatalf("use in the next step: got %v, want ErrReplay", err)
	}
	if got := env.countEvents(t, "alice", storage.EventSecondFactorReplay); got != 2 {
		t.Errorf("got %d replay events, want 2", got)
	}
	// The step before an accepted one is not accepted either.
	env.clock.Advance(Period)
	newer := env.code(t, secret, 0)
	older := env.code(t, secret, -1)
	if err := env.svc.Verify(ctx, noAudit, "alice", newer); err != nil {
		t.Fatalf("code of step T: %v", err)
	}
	if err := env.svc.Verify(ctx, noAudit, "alice", older); !errors.Is(err, ErrReplay) {
		t.Fatalf("code of step T-1 after T: got %v, want ErrReplay", err)
	}
	// Replays count as failures.
	if th := env.throttle(t, "alice"); th.Failures != 1 {
		t.Errorf("got %d failures, want 1", th.Failures)
	}
}

func TestVerifySameCodeConcurrently(t *testing.T) {
	t.Parallel()
	// A policy loose enough that all 50 attempts reach the check: the
	// store's atomic step acceptance alone must let exactly one through.
	env := newTestEnv(t, func(c *Config) {
		c.Policy = storage.AttemptPolicy{FreeAttempts: 100, BaseLockout: time.Second, MaxLockout: time.Second, MaxFailures: 100}
	})
	secret, _ := env.enroll(t, "alice")
	code := env.code(t, secret, 0)
	expectOneWinner(t, 50, func() error { return env.svc.Verify(context.Background(), noAudit, "alice", code) })
}

func TestLockout(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	ctx := context.Background()
	secret, _ := env.enroll(t, "alice")
	wrong := func() string {
		// A code of this secret from far away in time: well-formed, wrong.
		c, err := codeAt(secret, stepAt(env.clock.Now())-1000)
		if err != nil {
			t.Fatal(err)
		}
		for off := int64(-1); off <= 1; off++ {
			if c == env.code(t, secret, off) {
				t.Skip("test code collides with a valid one")
			}
		}
		return c
	}
	for i := range DefaultPolicy().FreeAttempts {
		if err := env.svc.Verify(ctx, noAudit, "alice", wrong()); !errors.Is(err, ErrInvalidCode) {
			t.Fatalf("failure %d: got %v, want ErrInvalidCode", i+1, err)
		}
	}
	if got := env.countEvents(t, "alice", storage.EventSecondFactorLockout); got != 1 {
		t.Errorf("got %d lockout events, want 1", got)
	}
	// Locked: the right code is refused exactly like a wrong one.
	for _, c := range []string{env.code(t, secret, 0), wrong(), "junk"} {
		err := env.svc.Verify(ctx, noAudit, "alice", c)
		var le *LockedError
		if !errors.Is(err, ErrLocked) || !errors.As(err, &le) {
			t.Fatalf("while locked: got %v, want a *LockedError", err)
		}
		if want := env.clock.Now().Add(DefaultPolicy().BaseLockout); !le.Until.Equal(want) {
			t.Errorf("got locked until %v, want %v", le.Until, want)
		}
	}
	// Locked attempts do not count: the lockout did not grow.
	if th := env.throttle(t, "alice"); th.Failures != DefaultPolicy().FreeAttempts {
		t.Errorf("got %d failures, want %d", th.Failures, DefaultPolicy().FreeAttempts)
	}
	// One more failure after the lockout doubles it.
	env.clock.Advance(DefaultPolicy().BaseLockout)
	if err := env.svc.Verify(ctx, noAudit, "alice", wrong()); !errors.Is(err, ErrInvalidCode) {
		t.Fatalf("got %v, want ErrInvalidCode", err)
	}
	var le *LockedError
	if err := env.svc.Verify(ctx, noAudit, "alice", env.code(t, secret, 0)); !errors.As(err, &le) ||
		!le.Until.Equal(env.clock.Now().Add(2*DefaultPolicy().BaseLockout)) {
		t.Fatalf("got %v, want locked for %v", err, 2*DefaultPolicy().BaseLockout)
	}
	// After the lockout the right code works and resets the counter.
	env.clock.Advance(2 * DefaultPolicy().BaseLockout)
	if err := env.svc.Verify(ctx, noAudit, "alice", env.code(t, secret, 0)); err != nil {
		t.Fatalf("after the lockout: %v", err)
	}
	if th := env.throttle(t, "alice"); th != (storage.Throttle{}) {
		t.Errorf("got throttle %+v after a success, want it reset", th)
	}
}

func TestHardLimitNeedsAReset(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, func(c *Config) {
		c.Policy = storage.AttemptPolicy{FreeAttempts: 100, BaseLockout: time.Second, MaxLockout: time.Second, MaxFailures: 3}
	})
	ctx := context.Background()
	secret, _ := env.enroll(t, "alice")
	for range 3 {
		if err := env.svc.Verify(ctx, noAudit, "alice", "x"); !errors.Is(err, ErrInvalidCode) {
			t.Fatalf("got %v, want ErrInvalidCode", err)
		}
	}
	if got := env.countEvents(t, "alice", storage.EventSecondFactorLockout); got != 1 {
		t.Errorf("got %d lockout events, want 1", got)
	}
	env.clock.Advance(24 * time.Hour)
	var le *LockedError
	if err := env.svc.Verify(ctx, noAudit, "alice", env.code(t, secret, 0)); !errors.As(err, &le) || !le.Until.IsZero() {
		t.Fatalf("a day later: got %v, want a *LockedError without end", err)
	}
	if err := env.svc.VerifyRecoveryCode(ctx, noAudit, "alice", "whatever"); !errors.Is(err, ErrLocked) {
		t.Fatalf("recovery code at the hard limit: got %v, want ErrLocked", err)
	}
	if err := env.svc.ResetLockout(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := env.svc.Verify(ctx, noAudit, "alice", env.code(t, secret, 0)); err != nil {
		t.Fatalf("after ResetLockout: %v", err)
	}
}

func TestMalformedCodesCountAsFailures(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, func(c *Config) {
		c.Policy = storage.AttemptPolicy{FreeAttempts: 100, BaseLockout: time.Second, MaxLockout: time.Second, MaxFailures: 100}
	})
	ctx := context.Background()
	secret, _ := env.enroll(t, "alice")
	good := env.code(t, secret, 0)
	fullWidth := strings.Map(func(r rune) rune { return r - '0' + '０' }, good)
	inputs := []string{"", good[:5], good + "0", fullWidth, "abcdef", good[:3] + "-" + good[3:]}
	for i, in := range inputs {
		if err := env.svc.Verify(ctx, noAudit, "alice", in); !errors.Is(err, ErrInvalidCode) {
			t.Errorf("input %d: got %v, want ErrInvalidCode", i, err)
		}
		if th := env.throttle(t, "alice"); th.Failures != i+1 {
			t.Errorf("input %d: got %d failures, want %d", i, th.Failures, i+1)
		}
	}
	if got := env.countEvents(t, "alice", storage.EventSecondFactorFailed); got != len(inputs) {
		t.Errorf("got %d failure events, want %d", got, len(inputs))
	}
	if err := env.svc.Verify(ctx, noAudit, "alice", good[:3]+" "+good[3:]); err != nil {
		t.Errorf("code with a space: got %v, want nil", err)
	}
}

func TestVerifyWithoutSecondFactor(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	ctx := context.Background()
	if err := env.svc.Verify(ctx, noAudit, "nobody", "123456"); !errors.Is(err, ErrNotEnabled) {
		t.Errorf("no credential: got %v, want ErrNotEnabled", err)
	}
	en, err := env.svc.Enroll(ctx, "pending")
	if err != nil {
		t.Fatal(err)
	}
	if err := env.svc.Verify(ctx, noAudit, "pending", env.code(t, en.Secret, 0)); !errors.Is(err, ErrNotEnabled) {
		t.Errorf("pending credential: got %v, want ErrNotEnabled", err)
	}
	if err := env.svc.VerifyRecoveryCode(ctx, noAudit, "pending", "abcd"); !errors.Is(err, ErrNotEnabled) {
		t.Errorf("recovery code without a second factor: got %v, want ErrNotEnabled", err)
	}
	if _, err := env.svc.RegenerateRecoveryCodes(ctx, noAudit, "pending"); !errors.Is(err, ErrNotEnabled) {
		t.Errorf("regenerate without a second factor: got %v, want ErrNotEnabled", err)
	}
}

func TestStorageFailuresFailClosed(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	env.enroll(t, "alice")
	svc, err := New(Config{Manager: env.mgr, Store: failingStore{env.store}, Clock: env.clock.Now, Issuer: "Example", Keys: env.keys})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := svc.Verify(ctx, noAudit, "alice", "123456"); !errors.Is(err, errDown) {
		t.Errorf("Verify: got %v, want the storage error", err)
	}
	if on, err := svc.Enabled(ctx, "alice"); on || !errors.Is(err, errDown) {
		t.Errorf("Enabled: got %v, %v; want false and the storage error", on, err)
	}
}

// TestOathtoolCodesVerify checks interoperability with an independent
// implementation: Debian's oathtool.
func TestOathtoolCodesVerify(t *testing.T) {
	t.Parallel()
	path, err := exec.LookPath("oathtool")
	if err != nil {
		t.Skip("oathtool not found in PATH (apt-get install oathtool); skipping the interoperability test")
	}
	env := newTestEnv(t, nil)
	ctx := context.Background()
	en, err := env.svc.Enroll(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	oathtool := func() string {
		t.Helper()
		now := env.clock.Now().UTC().Format("2006-01-02 15:04:05 UTC")
		out, err := exec.Command(path, "--totp", "-b", "--now", now, en.Secret).Output()
		if err != nil {
			t.Fatalf("oathtool: %v", err)
		}
		return strings.TrimSpace(string(out))
	}
	if _, err := env.svc.Confirm(ctx, noAudit, "alice", oathtool()); err != nil {
		t.Fatalf("Confirm with oathtool's code: %v", err)
	}
	for range 3 {
		env.clock.Advance(Period)
		if err := env.svc.Verify(ctx, noAudit, "alice", oathtool()); err != nil {
			t.Fatalf("Verify with oathtool's code: %v", err)
		}
	}
}

func TestDisable(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	ctx := context.Background()
	secret, codes := env.enroll(t, "alice")
	if err := env.svc.Verify(ctx, noAudit, "alice", "000"); !errors.Is(err, ErrInvalidCode) {
		t.Fatal(err)
	}
	if err := env.svc.Disable(ctx, noAudit, "alice"); err != nil {
		t.Fatal(err)
	}
	if st, err := env.svc.Status(ctx, "alice"); err != nil || st != (Status{}) {
		t.Errorf("got status %+v, %v; want the zero Status", st, err)
	}
	if n, _ := env.store.CountRecoveryCodes(ctx, "alice"); n != 0 {
		t.Errorf("got %d recovery codes left, want 0", n)
	}
	if th := env.throttle(t, "alice"); th != (storage.Throttle{}) {
		t.Errorf("got throttle %+v, want it reset", th)
	}
	if err := env.svc.Verify(ctx, noAudit, "alice", env.code(t, secret, 0)); !errors.Is(err, ErrNotEnabled) {
		t.Errorf("Verify after Disable: got %v, want ErrNotEnabled", err)
	}
	if err := env.svc.VerifyRecoveryCode(ctx, noAudit, "alice", codes[0]); !errors.Is(err, ErrNotEnabled) {
		t.Errorf("recovery code after Disable: got %v, want ErrNotEnabled", err)
	}
	if got := env.countEvents(t, "alice", storage.EventSecondFactorDisabled); got != 1 {
		t.Errorf("got %d disabled events, want 1", got)
	}
	if err := env.svc.Disable(ctx, noAudit, "alice"); err != nil {
		t.Errorf("second Disable: got %v, want nil (no-op)", err)
	}
	if got := env.countEvents(t, "alice", storage.EventSecondFactorDisabled); got != 1 {
		t.Errorf("got %d disabled events after a no-op Disable, want 1", got)
	}
	// Enrolling again works and gives a new secret.
	secret2, _ := env.enroll(t, "alice")
	if secret2 == secret {
		t.Error("re-enrollment returned the old secret")
	}
}

func TestEncryptionAtRest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	oldKey := randomKey(t, "old")
	env := newTestEnv(t, func(c *Config) { c.Keys = []Key{oldKey} })
	secret, _ := env.enroll(t, "alice")
	raw, err := b32.DecodeString(secret)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := env.store.GetTOTP(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if cred.KeyID != "old" {
		t.Errorf("got key ID %q, want %q", cred.KeyID, "old")
	}
	for _, leak := range [][]byte{raw, []byte(secret), []byte(strings.ToLower(secret)), raw[:8]} {
		if containsBytes(cred.Secret, leak) {
			t.Fatal("the stored bytes contain the secret")
		}
	}

	// A ciphertext copied into another user's record does not open.
	if _, err := env.svc.keys.open("mallory", cred.KeyID, cred.Secret); err == nil {
		t.Error("a secret sealed for alice opened for mallory")
	}

	// A new key first: the old one still decrypts; a successful use
	// re-encrypts under the new key.
	newKey := randomKey(t, "new")
	rotated := env.withKeys(t, newKey, oldKey)
	if err := rotated.Verify(ctx, noAudit, "alice", env.code(t, secret, 0)); err != nil {
		t.Fatalf("Verify with the old key second in the list: %v", err)
	}
	if cred, _ := env.store.GetTOTP(ctx, "alice"); cred.KeyID != "new" {
		t.Errorf("after a use: got key ID %q, want %q", cred.KeyID, "new")
	}

	// RotateKeys re-encrypts without a use.
	_, _ = env.enroll(t, "bob")
	if err := rotated.RotateKeys(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	bobCred, err := env.store.GetTOTP(ctx, "bob")
	if err != nil || bobCred.KeyID != "new" {
		t.Fatalf("after RotateKeys: got key ID %q (%v), want %q", bobCred.KeyID, err, "new")
	}
	if err := rotated.RotateKeys(ctx, "bob"); err != nil {
		t.Errorf("RotateKeys again: got %v, want a no-op", err)
	}
	if err := rotated.RotateKeys(ctx, "nobody"); err != nil {
		t.Errorf("RotateKeys without a credential: got %v, want a no-op", err)
	}
	// Only the new key is needed now; the old key alone no longer opens.
	newOnly := env.withKeys(t, newKey)
	env.clock.Advance(Period)
	if err := newOnly.Verify(ctx, noAudit, "alice", env.code(t, secret, 0)); err != nil {
		t.Errorf("Verify with the new key only: %v", err)
	}
	oldOnly := env.withKeys(t, oldKey)
	env.clock.Advance(Period)
	if err := oldOnly.Verify(ctx, noAudit, "alice", env.code(t, secret, 0)); err == nil || errors.Is(err, ErrInvalidCode) {
		t.Errorf("Verify with the old key only: got %v, want a decryption error", err)
	}
}

func TestEventsWithoutRequestCarryUserAndTime(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	ctx := context.Background()
	secret, _ := env.enroll(t, "alice")
	if err := env.svc.Verify(ctx, noAudit, "alice", env.code(t, secret, 0)); err != nil {
		t.Fatal(err)
	}
	evs, err := env.store.ListEvents(ctx, "alice", 0, 1)
	if err != nil || len(evs) != 1 {
		t.Fatalf("got %d events, %v; want 1", len(evs), err)
	}
	if e := evs[0]; e.Type != storage.EventSecondFactorUsed || !e.At.Equal(env.clock.Now()) || e.UserID != "alice" {
		t.Errorf("got event %+v, want second_factor_used for alice now", e)
	}
}

// BenchmarkVerify measures one successful verification: decrypting the
// secret, three HMAC-SHA-1 codes, the throttle and step updates in the
// memory store, and recording the event.
func BenchmarkVerify(b *testing.B) {
	env := newTestEnv(b, nil)
	secret, _ := env.enroll(b, "alice")
	ctx := context.Background()
	base := env.clock.Now()
	first := stepAt(base)
	// Codes for enough steps: a few are skipped below.
	codes := make([]string, 2*b.N+3)
	for k := range codes {
		c, err := codeAt(secret, first+int64(k))
		if err != nil {
			b.Fatal(err)
		}
		codes[k] = c
	}
	b.ReportAllocs()
	b.ResetTimer()
	j := 0
	for range b.N {
		// The clock is one step ahead of the code: T-1 is inside the window.
		env.clock.Set(base.Add(time.Duration(j+1) * Period))
		if err := env.svc.Verify(ctx, noAudit, "alice", codes[j]); err != nil {
			b.Fatal(err)
		}
		// Six digits collide now and then: when the code of step j is also
		// the code of a newer step in the window, that newer step is the
		// one accepted (the newest match wins), so move past it.
		if codes[j] == codes[j+1] || codes[j] == codes[j+2] {
			j += 2
		}
		j++
	}
}
