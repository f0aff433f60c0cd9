package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"html/template"
	"image/png"
	"net/http"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/sessionguard/sessionguard/passkey"
	"github.com/sessionguard/sessionguard/session"
	"github.com/sessionguard/sessionguard/totp"
)

type twoFactorView struct {
	Status totp.Status
	// Enrollment is set while a setup started by this browser awaits its
	// first code.
	Enrollment *enrollmentView
	// NeedsConfirm: the last authentication is too old, so enrolling,
	// regenerating codes and disabling ask for the password.
	NeedsConfirm bool
	// Trusted are the browsers that skip the second factor.
	Trusted []session.TrustedBrowserInfo
	// TrustedConsequence says what removing one does.
	TrustedConsequence string
	// Passkeys are the user's security keys and passkeys.
	Passkeys           []passkey.Info
	PasskeyConsequence string
}

type enrollmentView struct {
	// Secret is the base32 secret in groups of four, for typing in.
	Secret string
	// QR is a data: URL of a PNG QR code of the otpauth:// URL.
	QR template.URL
}

// twoFactorPage shows the second factor's state and what can be done:
// set it up, finish a setup (QR code, secret, first code), or, once on,
// renew the recovery codes or turn it off.
func (a *app) twoFactorPage(w http.ResponseWriter, r *http.Request) {
	s, _ := session.FromContext(r.Context())
	st, err := a.tf.Status(r.Context(), s.UserID)
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	v := twoFactorView{Status: st, NeedsConfirm: !a.m.RecentlyAuthenticated(s), TrustedConsequence: trustedBrowserConsequence}
	if st.Enabled {
		if v.Trusted, err = a.trustedBrowsers(r, s.UserID); err != nil {
			a.serverError(w, r, err)
			return
		}
	}
	v.PasskeyConsequence = passkeyConsequence
	if v.Passkeys, err = a.pk.List(r.Context(), s.UserID); err != nil {
		a.serverError(w, r, err)
		return
	}
	if st.Pending && !st.Enabled {
		if rv, ok := a.readReveal(r, s, revealEnrollment); ok {
			if v.Enrollment, err = enrollmentFor(rv); err != nil {
				a.serverError(w, r, err)
				return
			}
		}
	}
	a.render(w, r, http.StatusOK, "two-factor", pageData{Title: "Two-factor authentication", Nav: "two-factor", Data: v})
}

// enrollmentFor renders a revealed enrollment: the secret grouped for
// reading and the QR code as an image the page embeds (the CSP allows
// img-src data:).
func enrollmentFor(rv *revealed) (*enrollmentView, error) {
	key, err := otp.NewKeyFromURL(rv.URL)
	if err != nil {
		return nil, err
	}
	img, err := key.Image(240, 240)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	var grouped strings.Builder
	for i := 0; i < len(rv.Secret); i += 4 {
		if i > 0 {
			grouped.WriteByte(' ')
		}
		grouped.WriteString(rv.Secret[i:min(i+4, len(rv.Secret))])
	}
	return &enrollmentView{
		Secret: grouped.String(),
		// A data: URL built here from our own PNG: safe to mark as a URL.
		QR: template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())),
	}, nil
}

// enroll starts a setup (after a recent authentication): a new secret,
// shown on the next page until a code from it confirms it.
func (a *app) enroll(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	s, ok := a.reauthenticate(w, r, "/two-factor")
	if !ok {
		return
	}
	e, err := a.tf.Enroll(r.Context(), s.UserID)
	if errors.Is(err, totp.ErrAlreadyEnabled) {
		redirect(w, r, "/two-factor", "2fa-on-already")
		return
	} else if err != nil {
		a.serverError(w, r, err)
		return
	}
	if err := a.setReveal(w, s, revealed{Kind: revealEnrollment, Secret: e.Secret, URL: e.URL}); err != nil {
		a.serverError(w, r, err)
		return
	}
	redirect(w, r, "/two-factor", "")
}

// confirmEnrollment turns the second factor on once a code from the new
// secret verifies, and shows the recovery codes once.
func (a *app) confirmEnrollment(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	s, _ := session.FromContext(r.Context())
	codes, err := a.tf.Confirm(r.Context(), session.Audit{Request: r}, s.UserID, r.PostFormValue("code"))
	if a.codeRedirect(w, r, err, "/two-factor", "confirm-code") {
		return
	}
	switch {
	case errors.Is(err, totp.ErrNoPending):
		redirect(w, r, "/two-factor", "setup-expired")
		return
	case errors.Is(err, totp.ErrAlreadyEnabled):
		redirect(w, r, "/two-factor", "2fa-on-already")
		return
	case err != nil:
		a.serverError(w, r, err)
		return
	}
	a.showRecoveryCodes(w, r, s, codes, "2fa-enabled")
}

// cancelEnrollment drops a setup that was not confirmed. It never turns
// off a confirmed second factor: that is disableTwoFactor's job.
func (a *app) cancelEnrollment(w http.ResponseWriter, r *http.Request) {
	s, _ := session.FromContext(r.Context())
	st, err := a.tf.Status(r.Context(), s.UserID)
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	if st.Enabled {
		redirect(w, r, "/two-factor", "2fa-on-already")
		return
	}
	if st.Pending {
		if err := a.tf.Disable(r.Context(), session.Audit{Request: r}, s.UserID); err != nil {
			a.serverError(w, r, err)
			return
		}
	}
	clearReveal(w)
	redirect(w, r, "/two-factor", "2fa-cancelled")
}

type recoveryCodesView struct {
	// Codes are the new codes, shown this once; nil when they were shown
	// already.
	Codes []string
	Left  int
}

// recoveryCodesPage shows freshly made recovery codes once: the reveal
// cookie that carried them is expired in the same response.
func (a *app) recoveryCodesPage(w http.ResponseWriter, r *http.Request) {
	s, _ := session.FromContext(r.Context())
	var v recoveryCodesView
	if rv, ok := a.readReveal(r, s, revealRecoveryCodes); ok {
		v.Codes = rv.Codes
		clearReveal(w)
	} else {
		st, err := a.tf.Status(r.Context(), s.UserID)
		if err != nil {
			a.serverError(w, r, err)
			return
		}
		v.Left = st.RecoveryCodesLeft
	}
	a.render(w, r, http.StatusOK, "recovery-codes", pageData{Title: "Recovery codes", Nav: "two-factor", Data: v})
}

// regenerateRecoveryCodes replaces the recovery codes, after a recent
// authentication and a code from the authenticator (or a recovery code).
func (a *app) regenerateRecoveryCodes(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	s, ok := a.reauthenticate(w, r, "/two-factor")
	if !ok {
		return
	}
	ctx, audit := r.Context(), session.Audit{Request: r}
	err := a.verifyAnyCode(ctx, audit, s.UserID, r.PostFormValue("code"))
	if a.codeRedirect(w, r, err, "/two-factor", "regenerate-code") || a.notEnabledRedirect(w, r, err) {
		return
	} else if err != nil {
		a.serverError(w, r, err)
		return
	}
	codes, err := a.tf.RegenerateRecoveryCodes(ctx, audit, s.UserID)
	if a.notEnabledRedirect(w, r, err) {
		return
	} else if err != nil {
		a.serverError(w, r, err)
		return
	}
	a.showRecoveryCodes(w, r, s, codes, "")
}

// showRecoveryCodes hands a fresh set of recovery codes to the next page,
// which shows them once, and redirects there with the message key msg.
func (a *app) showRecoveryCodes(w http.ResponseWriter, r *http.Request, s *session.Session, codes []string, msg string) {
	if err := a.setReveal(w, s, revealed{Kind: revealRecoveryCodes, Codes: codes}); err != nil {
		a.serverError(w, r, err)
		return
	}
	redirect(w, r, "/two-factor/recovery-codes", msg)
}

// disableTwoFactor turns the second factor off, after a recent
// authentication and a code from the authenticator (or a recovery code):
// a stolen session alone cannot remove it.
func (a *app) disableTwoFactor(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	s, ok := a.reauthenticate(w, r, "/two-factor")
	if !ok {
		return
	}
	ctx, audit := r.Context(), session.Audit{Request: r}
	err := a.verifyAnyCode(ctx, audit, s.UserID, r.PostFormValue("code"))
	if a.codeRedirect(w, r, err, "/two-factor", "disable-code") || a.notEnabledRedirect(w, r, err) {
		return
	} else if err != nil {
		a.serverError(w, r, err)
		return
	}
	if err := a.tf.Disable(ctx, audit, s.UserID); err != nil {
		a.serverError(w, r, err)
		return
	}
	redirect(w, r, "/two-factor", "2fa-disabled")
}

// verifyAnyCode checks input as a TOTP code when it is all digits, and as
// a recovery code otherwise.
func (a *app) verifyAnyCode(ctx context.Context, audit session.Audit, userID, input string) error {
	digits := strings.Map(func(c rune) rune {
		if c == ' ' {
			return -1
		}
		return c
	}, input)
	if digits != "" && strings.Trim(digits, "0123456789") == "" {
		return a.tf.Verify(ctx, audit, userID, digits)
	}
	return a.tf.VerifyRecoveryCode(ctx, audit, userID, input)
}

// codeRedirect answers a wrong or replayed code or a lockout with a
// redirect to back, with a message about the form field field, and reports
// whether it did.
func (a *app) codeRedirect(w http.ResponseWriter, r *http.Request, err error, back, field string) bool {
	var locked *totp.LockedError
	switch {
	case errors.As(err, &locked):
		redirectField(w, r, back, "locked", field, minutesLeft(a.cfg.Clock(), locked.Until))
	case errors.Is(err, totp.ErrReplay):
		redirectField(w, r, back, "replayed-code", field)
	case errors.Is(err, totp.ErrInvalidCode):
		redirectField(w, r, back, "wrong-code", field)
	default:
		return false
	}
	return true
}

// minutesLeft is the whole number of minutes from now until until,
// rounded up (at least 1).
func minutesLeft(now, until time.Time) int {
	d := until.Sub(now)
	if d <= 0 {
		return 1
	}
	return int((d + time.Minute - 1) / time.Minute)
}

func (a *app) notEnabledRedirect(w http.ResponseWriter, r *http.Request, err error) bool {
	if errors.Is(err, totp.ErrNotEnabled) {
		redirect(w, r, "/two-factor", "2fa-off-already")
		return true
	}
	return false
}
