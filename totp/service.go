package totp

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"image/png"
	"net/http"
	"strconv"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/sessionguard/sessionguard/session"
	"github.com/sessionguard/sessionguard/storage"
)

// qrSize is the width and height of the enrollment QR code in pixels.
const qrSize = 256

// Enrollment is what a user needs to add a new secret to an authenticator
// app. It is secret: serve it with Cache-Control: no-store, show it once,
// never log it.
type Enrollment struct {
	// Secret is the raw secret in base32 without padding, for typing in.
	Secret string
	// URL is the otpauth:// Key URI that the QR code encodes.
	URL string
	// QRPNG is a PNG image of a QR code holding URL.
	QRPNG []byte
}

// Status describes a user's second factor. It holds no secret.
type Status struct {
	// Enabled is true once enrollment is confirmed.
	Enabled bool
	// Pending is true while an enrollment awaits confirmation.
	Pending bool
	// RecoveryCodesLeft counts unused recovery codes (0 unless Enabled).
	RecoveryCodesLeft int
}

// Enroll starts an enrollment for userID: it creates a fresh 160-bit secret
// (RFC 4226 R6), stores it encrypted as a pending credential — replacing an
// earlier pending one — and returns it with its otpauth:// URL and QR code.
// The second factor is not active until [Service.Confirm] verifies a code
// from it. It returns [ErrAlreadyEnabled] if userID has a confirmed second
// factor: a confirmed secret is never shown again (SECURITY.md §17).
//
// Enroll does not check how recently the user authenticated; the handler
// of POST /totp/enroll does, and so must an application calling Enroll
// directly.
func (s *Service) Enroll(ctx context.Context, userID string) (*Enrollment, error) {
	switch cred, err := s.store.GetTOTP(ctx, userID); {
	case err == nil && cred.Confirmed:
		return nil, ErrAlreadyEnabled
	case err != nil && !errors.Is(err, storage.ErrNotFound):
		return nil, fmt.Errorf("totp: read credential: %w", err)
	}
	account, err := s.accountName(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("totp: account name: %w", err)
	}
	if account == "" {
		return nil, errors.New("totp: account name is empty")
	}
	secret := make([]byte, SecretSize)
	rand.Read(secret) // never fails (crypto/rand, Go ≥ 1.24)
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer:      s.issuer,
		AccountName: account,
		Period:      uint(Period.Seconds()),
		Secret:      secret,
		Digits:      otp.DigitsSix,
		Algorithm:   otp.AlgorithmSHA1,
	})
	if err != nil {
		return nil, fmt.Errorf("totp: generate key: %w", err)
	}
	img, err := key.Image(qrSize, qrSize)
	if err != nil {
		return nil, fmt.Errorf("totp: QR code: %w", err)
	}
	var qr bytes.Buffer
	if err := png.Encode(&qr, img); err != nil {
		return nil, fmt.Errorf("totp: QR code: %w", err)
	}
	sealed, keyID := s.keys.seal(userID, secret)
	err = s.store.PutPendingTOTP(ctx, &storage.TOTPCredential{
		UserID:    userID,
		Secret:    sealed,
		KeyID:     keyID,
		CreatedAt: s.now(),
	})
	if errors.Is(err, storage.ErrConflict) {
		return nil, ErrAlreadyEnabled // confirmed concurrently
	}
	if err != nil {
		return nil, fmt.Errorf("totp: store pending credential: %w", err)
	}
	return &Enrollment{Secret: key.Secret(), URL: key.URL(), QRPNG: qr.Bytes()}, nil
}

// Confirm completes userID's pending enrollment if code verifies against
// the pending secret (SECURITY.md §17), and returns a fresh set of recovery
// codes formatted for display: show them once, only their hashes are kept.
// The step of code is recorded as used, so the same code cannot then sign
// in.
//
// Attempts are throttled like [Service.Verify]. It returns [ErrNoPending]
// if there is no pending enrollment, [ErrAlreadyEnabled] if it is already
// confirmed, [ErrInvalidCode] or a [*LockedError]. On success it records
// [storage.EventSecondFactorEnabled].
func (s *Service) Confirm(ctx context.Context, a session.Audit, userID, code string) ([]string, error) {
	cred, err := s.store.GetTOTP(ctx, userID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return nil, ErrNoPending
	case err != nil:
		return nil, fmt.Errorf("totp: read credential: %w", err)
	case cred.Confirmed:
		return nil, ErrAlreadyEnabled
	}
	th, err := s.reserve(ctx, userID)
	if err != nil {
		return nil, err
	}
	norm, ok := normalizeCode(code)
	if !ok {
		s.failed(ctx, a, userID, th, storage.EventSecondFactorFailed, "enrollment code")
		return nil, fmt.Errorf("totp: confirm: %w", ErrInvalidCode)
	}
	secret, err := s.keys.open(userID, cred.KeyID, cred.Secret)
	if err != nil {
		return nil, err
	}
	now := s.now()
	step, res, err := match(secret, norm, now, s.skew, cred.LastStep)
	if err != nil {
		return nil, fmt.Errorf("totp: confirm: %w", err)
	}
	if res != matched {
		s.failed(ctx, a, userID, th, storage.EventSecondFactorFailed, "enrollment code")
		return nil, fmt.Errorf("totp: confirm: %w", ErrInvalidCode)
	}
	switch err := s.store.ConfirmTOTP(ctx, userID, step, now); {
	case errors.Is(err, storage.ErrNotFound):
		return nil, ErrNoPending // confirmed or disabled concurrently
	case err != nil:
		return nil, fmt.Errorf("totp: confirm: %w", err)
	}
	// ConfirmTOTP confirms whatever pending credential is stored: if a
	// concurrent Enroll replaced the one verified above, the user's app
	// does not hold the confirmed secret. Undo rather than lock them out.
	if err := s.sameSecret(ctx, userID, secret); err != nil {
		return nil, err
	}
	s.succeeded(ctx, userID)
	codes, hashes := newRecoveryCodes(s.codeCount)
	if err := s.store.ReplaceRecoveryCodes(ctx, userID, hashes); err != nil {
		// The second factor is on; the user can regenerate codes.
		s.record(ctx, a, userID, storage.EventSecondFactorEnabled, "")
		return nil, fmt.Errorf("totp: second factor enabled, but storing recovery codes failed: %w", err)
	}
	s.record(ctx, a, userID, storage.EventSecondFactorEnabled, "")
	return codes, nil
}

// sameSecret checks that userID's stored credential still holds secret and
// deletes it otherwise.
func (s *Service) sameSecret(ctx context.Context, userID string, secret []byte) error {
	cur, err := s.store.GetTOTP(ctx, userID)
	if errors.Is(err, storage.ErrNotFound) {
		return ErrNoPending // disabled concurrently
	}
	if err != nil {
		return fmt.Errorf("totp: confirm: %w", err)
	}
	stored, err := s.keys.open(userID, cur.KeyID, cur.Secret)
	if err == nil && subtle.ConstantTimeCompare(stored, secret) == 1 {
		return nil
	}
	if err := s.store.DeleteTOTP(ctx, userID); err != nil {
		return fmt.Errorf("totp: confirm: undo: %w", err)
	}
	return fmt.Errorf("totp: enrollment replaced while confirming; enroll again: %w", ErrNoPending)
}

// Verify checks a TOTP code of userID, for a sign-in's second step or a
// re-authentication.
//
// It follows RFC 6238 §5.2 with the server clock only: the code must match
// the current step or one either side ([Config.Skew]), and its step must be
// newer than the last accepted one, recorded atomically so that of any
// number of concurrent submissions of one code exactly one succeeds.
// Attempts are throttled per user across all sessions (SECURITY.md §16):
// every attempt counts as a failure until it succeeds, and during a lockout
// no code is looked at, so a right code is refused exactly like a wrong one.
//
// It returns nil on success (resetting the failure counter and recording
// [storage.EventSecondFactorUsed]), [ErrInvalidCode] for a wrong or
// malformed code, [ErrReplay] (which also matches ErrInvalidCode) for a code
// whose step was used already, a [*LockedError] (matching [ErrLocked]), or
// [ErrNotEnabled]. A successful use of a secret sealed with an old key
// re-encrypts it with the newest.
func (s *Service) Verify(ctx context.Context, a session.Audit, userID, code string) error {
	cred, err := s.confirmed(ctx, userID)
	if err != nil {
		return err
	}
	th, err := s.reserve(ctx, userID)
	if err != nil {
		return err
	}
	norm, ok := normalizeCode(code)
	if !ok {
		s.failed(ctx, a, userID, th, storage.EventSecondFactorFailed, "malformed code")
		return fmt.Errorf("totp: verify: %w", ErrInvalidCode)
	}
	secret, err := s.keys.open(userID, cred.KeyID, cred.Secret)
	if err != nil {
		return err
	}
	step, res, err := match(secret, norm, s.now(), s.skew, cred.LastStep)
	if err != nil {
		return fmt.Errorf("totp: verify: %w", err)
	}
	switch res {
	case noMatch:
		s.failed(ctx, a, userID, th, storage.EventSecondFactorFailed, "wrong code")
		return fmt.Errorf("totp: verify: %w", ErrInvalidCode)
	case replayed:
		s.failed(ctx, a, userID, th, storage.EventSecondFactorReplay, "")
		return fmt.Errorf("totp: verify: %w", ErrReplay)
	}
	switch err := s.store.AcceptTOTPStep(ctx, userID, step); {
	case errors.Is(err, storage.ErrStaleStep):
		// Another request accepted this step (or a newer one) first.
		s.failed(ctx, a, userID, th, storage.EventSecondFactorReplay, "")
		return fmt.Errorf("totp: verify: %w", ErrReplay)
	case errors.Is(err, storage.ErrNotFound):
		return ErrNotEnabled // disabled concurrently
	case err != nil:
		return fmt.Errorf("totp: accept step: %w", err)
	}
	s.succeeded(ctx, userID)
	if cred.KeyID != s.keys.newest {
		s.reseal(ctx, userID, secret)
	}
	s.record(ctx, a, userID, storage.EventSecondFactorUsed, "")
	return nil
}

// Disable removes userID's second factor, pending or confirmed, with its
// recovery codes, and clears its attempt counter. It is a no-op if there is
// none. It does not check a code itself — the handler of POST /totp/disable
// does, and an application calling it directly (an administrator's tool,
// say) must decide what to require. Disabling a confirmed second factor
// records [storage.EventSecondFactorDisabled].
func (s *Service) Disable(ctx context.Context, a session.Audit, userID string) error {
	cred, err := s.store.GetTOTP(ctx, userID)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("totp: read credential: %w", err)
	}
	// Codes first: if the second delete fails, a retry finds the
	// credential still there, and old codes can never outlive it to pair
	// with a later enrollment.
	if err := s.store.ReplaceRecoveryCodes(ctx, userID, nil); err != nil {
		return fmt.Errorf("totp: delete recovery codes: %w", err)
	}
	if err := s.store.DeleteTOTP(ctx, userID); err != nil {
		return fmt.Errorf("totp: delete credential: %w", err)
	}
	if cred != nil && cred.Confirmed {
		s.record(ctx, a, userID, storage.EventSecondFactorDisabled, "")
	}
	if err := s.store.ResetAttempts(ctx, userID); err != nil {
		return fmt.Errorf("totp: reset attempts: %w", err)
	}
	if _, err := s.mgr.TrustedBrowsers().RevokeAll(ctx, a, userID); err != nil {
		return fmt.Errorf("totp: ending trusted browsers: %w", err)
	}
	return nil
}

// Status reports userID's second-factor state.
func (s *Service) Status(ctx context.Context, userID string) (Status, error) {
	cred, err := s.store.GetTOTP(ctx, userID)
	if errors.Is(err, storage.ErrNotFound) {
		return Status{}, nil
	}
	if err != nil {
		return Status{}, fmt.Errorf("totp: read credential: %w", err)
	}
	if !cred.Confirmed {
		return Status{Pending: true}, nil
	}
	n, err := s.store.CountRecoveryCodes(ctx, userID)
	if err != nil {
		return Status{}, fmt.Errorf("totp: count recovery codes: %w", err)
	}
	return Status{Enabled: true, RecoveryCodesLeft: n}, nil
}

// Enabled reports whether userID has a confirmed second factor. An error
// means the answer is unknown: treat it as a failure, never as false.
func (s *Service) Enabled(ctx context.Context, userID string) (bool, error) {
	cred, err := s.store.GetTOTP(ctx, userID)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("totp: read credential: %w", err)
	}
	return cred.Confirmed, nil
}

// RotateKeys re-encrypts userID's secret, pending or confirmed, with the
// newest key of [Config.Keys] if an older key sealed it; it is a no-op
// otherwise. Secrets are also re-encrypted on their next successful use, so
// an old key can be removed from Config.Keys once every user has either
// signed in or been passed to RotateKeys (the store has no list of users:
// iterate over the application's own).
func (s *Service) RotateKeys(ctx context.Context, userID string) error {
	cred, err := s.store.GetTOTP(ctx, userID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("totp: read credential: %w", err)
	}
	if cred.KeyID == s.keys.newest {
		return nil
	}
	secret, err := s.keys.open(userID, cred.KeyID, cred.Secret)
	if err != nil {
		return err
	}
	sealed, keyID := s.keys.seal(userID, secret)
	err = s.store.UpdateTOTPSecret(ctx, userID, sealed, keyID)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("totp: store re-encrypted secret: %w", err)
	}
	return nil
}

// reseal re-encrypts a secret just used under the newest key. A failure
// only delays the rotation, so it is logged, not returned.
func (s *Service) reseal(ctx context.Context, userID string, secret []byte) {
	sealed, keyID := s.keys.seal(userID, secret)
	err := s.store.UpdateTOTPSecret(ctx, userID, sealed, keyID)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		s.logger.ErrorContext(ctx, "totp: re-encrypting secret under the newest key failed", "user", userID, "error", err)
	}
}

// ResetLockout clears userID's failed attempts and lockout, including the
// hard limit of [storage.AttemptPolicy.MaxFailures] that nothing else
// lifts. It is meant for administrators and account-recovery flows that
// verified the user some other way.
func (s *Service) ResetLockout(ctx context.Context, userID string) error {
	if err := s.store.ResetAttempts(ctx, userID); err != nil {
		return fmt.Errorf("totp: reset attempts: %w", err)
	}
	return nil
}

// SignIn starts a session for userID after the application has checked
// the password: if userID has a confirmed second factor (TOTP, or a
// registered security key or passkey) the session is
// pending ([storage.AuthPendingSecondFactor]) and pending is true — send
// the user to the second-factor step (POST /totp/verify); otherwise it is
// fully signed in at [storage.AuthPassword]. Any session the request
// already had is replaced ([session.Manager.Login]).
//
// If the second-factor state cannot be read, SignIn fails and starts no
// session: it never falls back to a password-only sign-in. On a browser
// the user trusted ([session.TrustedBrowsers.Trusted]) the session starts
// at [storage.AuthSecondFactor], pending is false, and a
// "second_factor_skipped" event is recorded.
func (s *Service) SignIn(w http.ResponseWriter, r *http.Request, userID string) (pending bool, err error) {
	return s.SignInWithOptions(w, r, userID, session.LoginOptions{Remember: true})
}

// SignInWithOptions is [Service.SignIn] with the sign-in's options, such
// as the "remember me" box ([session.LoginOptions.Remember]); the choice
// carries over to the session once the second factor completes it.
func (s *Service) SignInWithOptions(w http.ResponseWriter, r *http.Request, userID string, opts session.LoginOptions) (pending bool, err error) {
	enabled, err := s.Enabled(r.Context(), userID)
	if err != nil {
		return false, err
	}
	if !enabled {
		// A security key or passkey is a second factor too, given at the
		// same step (package passkey: POST /passkeys/login/finish).
		keys, err := s.store.ListPasskeys(r.Context(), userID)
		if err != nil {
			return false, fmt.Errorf("totp: reading passkeys: %w", err)
		}
		enabled = len(keys) > 0
	}
	level := storage.AuthPassword
	if enabled {
		level = storage.AuthPendingSecondFactor
		if s.mgr.TrustedBrowsers().Trusted(r, userID) {
			// The user trusted this browser after a second factor
			// (session.TrustedBrowsers): the sign-in is complete.
			level = storage.AuthSecondFactor
			enabled = false
		}
	}
	if _, err := s.mgr.LoginWithOptions(w, r, userID, level, opts); err != nil {
		return false, fmt.Errorf("totp: sign in: %w", err)
	}
	if level == storage.AuthSecondFactor {
		s.record(r.Context(), session.Audit{Request: r}, userID, storage.EventSecondFactorSkipped, "trusted browser")
	}
	return enabled, nil
}

// confirmed returns userID's confirmed credential or ErrNotEnabled.
func (s *Service) confirmed(ctx context.Context, userID string) (*storage.TOTPCredential, error) {
	cred, err := s.store.GetTOTP(ctx, userID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return nil, ErrNotEnabled
	case err != nil:
		return nil, fmt.Errorf("totp: read credential: %w", err)
	case !cred.Confirmed:
		return nil, ErrNotEnabled
	}
	return cred, nil
}

// reserve counts one attempt for userID in advance (SECURITY.md §16): it
// returns the new state, or a *LockedError if no attempt is allowed now.
func (s *Service) reserve(ctx context.Context, userID string) (storage.Throttle, error) {
	th, err := s.store.ReserveAttempt(ctx, userID, s.now(), s.policy)
	if errors.Is(err, storage.ErrLocked) {
		le := &LockedError{Until: th.LockedUntil}
		if th.Failures >= s.policy.MaxFailures {
			le.Until = time.Time{}
		}
		return th, le
	}
	if err != nil {
		return th, fmt.Errorf("totp: reserve attempt: %w", err)
	}
	return th, nil
}

// failed records a failed attempt whose reservation returned th, and the
// start of a lockout if this failure started one.
func (s *Service) failed(ctx context.Context, a session.Audit, userID string, th storage.Throttle, typ storage.EventType, detail string) {
	s.record(ctx, a, userID, typ, detail)
	if !th.LockedUntil.IsZero() || th.Failures >= s.policy.MaxFailures {
		s.record(ctx, a, userID, storage.EventSecondFactorLockout, strconv.Itoa(th.Failures)+" failed attempts")
	}
}

// succeeded resets userID's failure counter after a verified code. A
// failure to reset leaves the user throttled more strictly than needed, not
// less, so it is logged, not returned.
func (s *Service) succeeded(ctx context.Context, userID string) {
	if err := s.store.ResetAttempts(ctx, userID); err != nil {
		s.logger.ErrorContext(ctx, "totp: resetting failed attempts failed", "user", userID, "error", err)
	}
}
