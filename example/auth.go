package main

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/sessionguard/sessionguard/session"
	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/totp"
)

// signedInElsewhere sends a request that has a session away from the
// sign-in and sign-up pages, and reports whether it did: a signed-in user
// goes home, a sign-in pending its second factor to that step.
func signedInElsewhere(w http.ResponseWriter, r *http.Request) bool {
	if _, ok := session.FromContext(r.Context()); ok {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return true
	}
	if _, ok := session.PendingFromContext(r.Context()); ok {
		http.Redirect(w, r, "/login/2fa", http.StatusSeeOther)
		return true
	}
	return false
}

func (a *app) loginPage(w http.ResponseWriter, r *http.Request) {
	if signedInElsewhere(w, r) {
		return
	}
	a.render(w, r, http.StatusOK, "login", pageData{Title: "Log in"})
}

// login checks the password, then starts a session: a full one, or one
// pending its second factor when the account has one (totp.Service.SignIn).
func (a *app) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	username, password := r.PostFormValue("username"), r.PostFormValue("password")
	// The "remember me" box: unticked, the session ends with the browser
	// and after SessionOnlyIdleTimeout without activity.
	remember := r.PostFormValue("remember") != ""
	form := url.Values{"username": {username}, "remember": {""}}
	if remember {
		form.Set("remember", "on")
	}
	u, err := a.verifyPassword(w, r, username, password)
	switch {
	case errors.Is(err, errTooManyPasswords):
		a.render(w, r, http.StatusTooManyRequests, "login", pageData{Title: "Log in", Error: "Too many wrong passwords for this account. Please wait a while and try again.", Field: "password", Form: form})
		return
	case errors.Is(err, errBadCredentials):
		a.render(w, r, http.StatusUnauthorized, "login", pageData{Title: "Log in", Error: "Wrong username or password.", Field: "password", Form: form})
		return
	case err != nil:
		a.serverError(w, r, err)
		return
	}
	pending, err := a.tf.SignInWithOptions(w, r, u.ID, session.LoginOptions{Remember: remember})
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	if pending {
		http.Redirect(w, r, "/login/2fa", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// secondFactorPage is the second step of signing in, the only page a
// session pending its second factor can see (SECURITY.md §18).
func (a *app) secondFactorPage(w http.ResponseWriter, r *http.Request) {
	if _, ok := session.PendingFromContext(r.Context()); !ok {
		if _, ok := session.FromContext(r.Context()); ok {
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		redirectToLogin(w, r)
		return
	}
	a.renderSecondFactor(w, r, http.StatusOK, "", r.URL.Query().Get("with") == "recovery-code")
}

func (a *app) renderSecondFactor(w http.ResponseWriter, r *http.Request, status int, errText string, recovery bool) {
	field := "code"
	if recovery {
		field = "recovery_code"
	}
	v := secondFactorView{Recovery: recovery, TOTP: true}
	if s, ok := session.PendingFromContext(r.Context()); ok {
		st, err := a.tf.Status(r.Context(), s.UserID)
		if err != nil {
			a.serverError(w, r, err)
			return
		}
		keys, err := a.pk.List(r.Context(), s.UserID)
		if err != nil {
			a.serverError(w, r, err)
			return
		}
		v.TOTP, v.Passkeys = st.Enabled, len(keys) > 0
	}
	a.render(w, r, status, "second-factor", pageData{Title: "Two-factor authentication", Error: errText, Field: field, Data: v})
}

type secondFactorView struct {
	// Recovery shows the recovery-code form instead of the code form.
	Recovery bool
	// TOTP: the user has an authenticator app (and recovery codes);
	// Passkeys: at least one security key or passkey, which the script
	// offers (passkey.Service's login routes complete this same step).
	TOTP, Passkeys bool
}

// secondFactor verifies a TOTP code or a recovery code for the pending
// session's user and completes the sign-in (the token is rotated).
func (a *app) secondFactor(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	s, ok := session.PendingFromContext(r.Context())
	if !ok {
		a.unauthenticated(w, r)
		return
	}
	ctx, audit := r.Context(), session.Audit{Request: r}
	recoveryCode := strings.TrimSpace(r.PostFormValue("recovery_code"))
	recovery := r.PostFormValue("method") == "recovery-code" || recoveryCode != ""
	var err error
	if recovery {
		err = a.tf.VerifyRecoveryCode(ctx, audit, s.UserID, recoveryCode)
	} else {
		err = a.tf.Verify(ctx, audit, s.UserID, r.PostFormValue("code"))
	}
	if errText, status, ok := a.codeError(err); ok {
		if recovery && !errors.Is(err, totp.ErrLocked) {
			errText = "That recovery code is not right, or it was used already. Check it and try again."
		}
		a.renderSecondFactor(w, r, status, errText, recovery)
		return
	}
	switch {
	case errors.Is(err, totp.ErrNotEnabled):
		// The second factor was turned off meanwhile: start over.
		a.m.Logout(w, r)
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	case err != nil:
		a.serverError(w, r, err)
		return
	}
	if _, err := a.m.Elevate(w, r, storage.AuthSecondFactor); err != nil {
		a.serverError(w, r, err)
		return
	}
	trusted := false
	if r.PostFormValue("trust") != "" {
		// "Don't ask again on this browser", right after the second
		// factor passed on this request. The sign-in is complete either
		// way: a failure here only means the code is asked next time.
		if _, err := a.m.TrustedBrowsers().Trust(w, r, audit, s.UserID); err != nil {
			a.cfg.Logger.Error("example: trusting a browser", "err", err)
		} else {
			trusted = true
		}
	}
	if recovery {
		st, err := a.tf.Status(r.Context(), s.UserID)
		if err != nil {
			a.serverError(w, r, err)
			return
		}
		redirect(w, r, "/", "recovery-used", st.RecoveryCodesLeft)
		return
	}
	if trusted {
		redirect(w, r, "/", "browser-trusted")
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// codeError turns a refused code into a message and a status: a wrong
// code, a code already used (the truth, which the security log records
// too: wait for the next one) and a lockout with the time left are told
// apart. During a lockout no code is looked at (SECURITY.md §16), so its
// message says nothing about the code.
func (a *app) codeError(err error) (text string, status int, ok bool) {
	var locked *totp.LockedError
	switch {
	case errors.As(err, &locked):
		if locked.Until.IsZero() {
			return "Too many wrong codes: this account is locked. Contact support to unlock it.", http.StatusTooManyRequests, true
		}
		n := minutesLeft(a.cfg.Clock(), locked.Until)
		wait := "1 minute"
		if n > 1 {
			wait = fmt.Sprintf("%d minutes", n)
		}
		return "Too many wrong codes, so codes are not checked for now. Try again in " + wait + ".", http.StatusTooManyRequests, true
	case errors.Is(err, totp.ErrReplay):
		return replayedCodeText, http.StatusForbidden, true
	case errors.Is(err, totp.ErrInvalidCode):
		return wrongCodeText, http.StatusForbidden, true
	}
	return "", 0, false
}

func (a *app) signupPage(w http.ResponseWriter, r *http.Request) {
	if signedInElsewhere(w, r) {
		return
	}
	a.render(w, r, http.StatusOK, "signup", pageData{Title: "Create account"})
}

func (a *app) signup(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	username, password := r.PostFormValue("username"), r.PostFormValue("password")
	u, err := a.users.create(username, password)
	if err != nil {
		status, text, field := http.StatusBadRequest, "", "username"
		switch {
		case errors.Is(err, errBadUsername):
			text = "Please fix this: " + err.Error() + "."
		case errors.Is(err, errBadPassword):
			text, field = "Please fix this: "+err.Error()+".", "password"
		case errors.Is(err, errUserExists):
			text = "That username is taken. Choose another one."
		default:
			a.serverError(w, r, err)
			return
		}
		a.render(w, r, status, "signup", pageData{Title: "Create account", Error: text, Field: field, Form: url.Values{"username": {username}}})
		return
	}
	// The log starts with the account: created from this device.
	a.m.SecurityLog().Record(r.Context(), session.Audit{Request: r}, u.ID, eventAccountCreated, "")
	if _, err := a.m.Login(w, r, u.ID, storage.AuthPassword); err != nil {
		a.serverError(w, r, err)
		return
	}
	redirect(w, r, "/", "welcome")
}

// logout ends this session, a full one or one pending its second factor.
func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	if err := a.m.Logout(w, r); err != nil && errors.Is(err, session.ErrUnavailable) {
		a.serverError(w, r, err)
		return
	}
	redirect(w, r, "/login", "logged-out")
}
