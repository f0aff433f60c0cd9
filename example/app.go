package main

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/sessionguard/sessionguard/passkey"
	"github.com/sessionguard/sessionguard/session"
	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/totp"
	"golang.org/x/crypto/bcrypt"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// maxFormBytes bounds every form body (SECURITY.md §23).
const maxFormBytes = 8 << 10

type appConfig struct {
	// DataDir holds the generated keys, the SQLite database and the
	// accounts file. Required.
	DataDir string
	Logger  *slog.Logger
	// Clock, if set, replaces time.Now (tests).
	Clock func() time.Time
	// BcryptCost defaults to bcrypt.DefaultCost.
	BcryptCost int
	// StoreKind is storeSQLite (the default), storeMemory, storePostgres or
	// storeRedis; the last two connect to StoreURL.
	StoreKind string
	StoreURL  string
	// RedisPrefix is the Redis key prefix (default: the store's own).
	RedisPrefix string
	// Locator and TrustedProxies are passed to session.Config.
	Locator        session.Locator
	TrustedProxies []netip.Prefix
	// Demo says on every page that the data shown is made up (-demo).
	Demo bool
	// seed, if set, is run once the app is made (-demo: seedDemo).
	seed func(*app) error
	// PasskeyOrigin is the origin WebAuthn ceremonies must come from, the
	// app's own address (default defaultPasskeyOrigin); the relying party
	// ID is "localhost", which browsers accept over plain HTTP.
	PasskeyOrigin string
}

// app is the example web application.
type app struct {
	cfg    appConfig
	store  storage.Store
	m      *session.Manager
	tf     *totp.Service
	pk     *passkey.Service
	users  *userStore
	pages  map[string]*template.Template
	reveal *securecookie.SecureCookie
	tel    *telemetry
	// mux is the router Handler built, which notFound asks whether a path
	// exists for another method.
	mux         *http.ServeMux
	handlerOnce sync.Once
	handler     http.Handler
}

func newApp(cfg appConfig) (_ *app, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.BcryptCost == 0 {
		cfg.BcryptCost = bcrypt.DefaultCost
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	keys, err := loadOrCreateKeys(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	store, persistent, err := openStore(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("opening the %s store: %w", cfg.StoreKind, err)
	}
	a := &app{cfg: cfg, store: store, pages: pages}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if a.tel, err = newTelemetry(); err != nil {
		return nil, err
	}
	if store, err = a.tel.instrument(store); err != nil {
		return nil, err
	}
	usersPath := ""
	if persistent {
		usersPath = filepath.Join(cfg.DataDir, "users.json")
	}
	if a.users, err = newUserStore(usersPath, cfg.BcryptCost); err != nil {
		return nil, err
	}
	created, err := a.users.ensure(demoUser, demoPassword)
	if err != nil {
		return nil, err
	}
	a.m, err = session.New(session.Config{
		Store: store,
		Keys:  keys.Cookie,
		// The example serves plain HTTP: cookies without Secure, so that
		// every browser keeps them. Serve HTTPS and drop this in production.
		Insecure:        true,
		Clock:           cfg.Clock,
		Logger:          cfg.Logger,
		Locator:         cfg.Locator,
		TrustedProxies:  cfg.TrustedProxies,
		Unauthenticated: http.HandlerFunc(a.unauthenticated),
		ErrorHandler:    a.storageFailure,
		// Logging out clears the cache and storage but not every cookie:
		// "Don't ask again on this browser" (the trusted-browser cookie)
		// must outlive a sign-out to mean anything. Logout expires the
		// session cookie itself all the same.
		ClearSiteData: `"cache", "storage"`,
		// The sign-in and code pages state these two durations.
		SessionOnlyIdleTimeout: 2 * time.Hour,
		TrustedBrowsers:        session.TrustedBrowsersConfig{Duration: 30 * 24 * time.Hour},
		MeterProvider:          a.tel.provider,
	})
	if err != nil {
		return nil, err
	}
	a.tf, err = totp.New(totp.Config{
		Manager: a.m,
		Store:   store,
		Issuer:  "sessionguard example",
		Keys:    keys.totpKeys(),
		Clock:   cfg.Clock,
		AccountName: func(_ context.Context, userID string) (string, error) {
			if u, ok := a.users.get(userID); ok {
				return u.Username, nil
			}
			return userID, nil
		},
	})
	if err != nil {
		return nil, err
	}
	origin := cfg.PasskeyOrigin
	if origin == "" {
		origin = defaultPasskeyOrigin
	}
	a.pk, err = passkey.New(passkey.Config{
		Manager: a.m, Store: store, Clock: cfg.Clock, Logger: cfg.Logger,
		RPID: "localhost", RPDisplayName: "sessionguard example", RPOrigins: []string{origin},
		UserName: func(_ context.Context, userID string) string {
			if u, ok := a.users.get(userID); ok {
				return u.Username
			}
			return userID
		},
	})
	if err != nil {
		return nil, err
	}
	if a.reveal, err = newRevealCodec(keys.Cookie[0]); err != nil {
		return nil, err
	}
	if created != nil {
		// The demo account's log starts with its creation, like any other.
		a.m.SecurityLog().Record(context.Background(), session.Audit{}, created.ID, eventAccountCreated, "")
	}
	return a, nil
}

func (a *app) Close() error {
	if a.m != nil {
		a.m.Close()
	}
	if a.tel != nil {
		a.tel.Close()
	}
	return a.store.Close()
}

// Handler returns the whole app behind the session middleware. It builds
// it once; every call returns the same handler.
func (a *app) Handler() http.Handler {
	a.handlerOnce.Do(func() { a.handler = a.newHandler() })
	return a.handler
}

func (a *app) newHandler() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))

	// Readiness and Prometheus metrics (serve them on an internal
	// listener in production).
	mux.HandleFunc("GET /healthz", a.healthz)
	mux.Handle("GET /metrics", a.tel.metrics)

	// The library's JSON API, for scripts and native apps.
	mux.Handle("/auth/", a.m.Routes(a.tf, a.pk))

	// page wraps a page for signed-in users; action wraps a state-changing
	// form target: cross-origin protection, then a signed-in user.
	page := func(h http.HandlerFunc) http.Handler { return a.m.RequireAuth(h) }
	action := func(h http.HandlerFunc) http.Handler { return a.m.Protect(a.m.RequireAuth(h)) }

	mux.HandleFunc("GET /{$}", a.home)
	mux.HandleFunc("GET /login", a.loginPage)
	mux.Handle("POST /login", a.m.Protect(http.HandlerFunc(a.login)))
	mux.HandleFunc("GET /login/2fa", a.secondFactorPage)
	mux.Handle("POST /login/2fa", a.m.Protect(http.HandlerFunc(a.secondFactor)))
	mux.HandleFunc("GET /signup", a.signupPage)
	mux.Handle("POST /signup", a.m.Protect(http.HandlerFunc(a.signup)))
	mux.Handle("POST /logout", a.m.Protect(http.HandlerFunc(a.logout)))

	mux.Handle("GET /sessions", page(a.sessionsPage))
	mux.Handle("GET /sessions/{id}", page(a.sessionPage))
	mux.Handle("POST /sessions/{id}/logout", action(a.endSession))
	mux.Handle("GET /sessions/confirm/{action}", page(a.confirmPage))
	mux.Handle("POST /sessions/logout-others", action(a.endOtherSessions))
	mux.Handle("POST /sessions/logout-everywhere", action(a.endAllSessions))

	mux.Handle("GET /two-factor", page(a.twoFactorPage))
	mux.Handle("POST /two-factor/enroll", action(a.enroll))
	mux.Handle("POST /two-factor/confirm", action(a.confirmEnrollment))
	mux.Handle("POST /two-factor/cancel", action(a.cancelEnrollment))
	mux.Handle("GET /two-factor/recovery-codes", page(a.recoveryCodesPage))
	mux.Handle("POST /two-factor/recovery-codes", action(a.regenerateRecoveryCodes))
	mux.Handle("POST /two-factor/disable", action(a.disableTwoFactor))
	mux.Handle("GET /two-factor/trusted-browsers/{id}", page(a.trustedBrowserPage))             // trusted.go
	mux.Handle("POST /two-factor/trusted-browsers/{id}/remove", action(a.removeTrustedBrowser)) // trusted.go
	mux.Handle("GET /two-factor/passkeys/{id}", page(a.passkeyPage))                            // passkeys.go
	mux.Handle("POST /two-factor/passkeys/{id}/remove", action(a.removePasskey))                // passkeys.go
	mux.Handle("POST /two-factor/passkeys/confirm-password", action(a.confirmPasswordJSON))     // passkeys.go

	mux.Handle("GET /apps", page(a.appsPage))
	mux.Handle("POST /apps/demo", action(a.authorizeDemoApp))
	mux.Handle("GET /apps/{id}", page(a.appPage))
	mux.Handle("POST /apps/{id}/revoke", action(a.revokeApp))

	mux.Handle("GET /security-log", page(a.securityLogPage))
	mux.Handle("GET /sessions/live", page(a.liveSessions))        // live.go
	mux.Handle("GET /alerts/new-device", page(a.newDeviceAlerts)) // alerts.go

	// What a connected app calls with its token.
	mux.Handle("GET /api/me", a.m.Apps().Handler(a.m.Apps().RequireScope(scopeProfile, http.HandlerFunc(a.apiMe))))

	mux.Handle("GET /password", page(a.passwordPage))
	mux.Handle("POST /password", action(a.changePassword))

	// Everything else: a page that says so, with a way back (or 405 where
	// the path exists for another method).
	mux.HandleFunc("/", a.notFound)
	a.mux = mux
	return a.m.Handler(securityHeaders(mux))
}

// securityHeaders sets the headers every page of the example carries.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// isAPI reports whether r is for a JSON API (the library's routes under
// /auth/, the connected apps' /api/): those answer in JSON even where the
// library calls the app's handlers (Unauthenticated, ErrorHandler). The
// path decides, an explicit input: no marker travels in the context.
func isAPI(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, "/auth/") || strings.HasPrefix(r.URL.Path, "/api/")
}

// unauthenticated is session.Config.Unauthenticated: the JSON API keeps
// its 401, pages send a session pending its second factor to that step and
// everyone else to the sign-in page.
func (a *app) unauthenticated(w http.ResponseWriter, r *http.Request) {
	if isAPI(r) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintln(w, `{"error":"unauthenticated","message":"Please log in."}`)
		return
	}
	if _, ok := session.PendingFromContext(r.Context()); ok {
		http.Redirect(w, r, "/login/2fa", http.StatusSeeOther)
		return
	}
	redirectToLogin(w, r)
}

// storageFailure is session.Config.ErrorHandler: the session state could
// not be read, so the request is not authenticated (fail closed).
func (a *app) storageFailure(w http.ResponseWriter, r *http.Request, err error) {
	a.cfg.Logger.Error("example: session store unavailable", "path", r.URL.Path, "err", err)
	if isAPI(r) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, `{"error":"unavailable","message":"Please try again in a moment."}`)
		return
	}
	a.render(w, r, http.StatusServiceUnavailable, "error", pageData{Title: "Temporarily unavailable", Error: "We can't check your sign-in right now. Please try again in a moment."})
}

// redirectToLogin sends the browser to the sign-in page, saying "You were
// signed out" when its session cookie was refused (expired or revoked).
func redirectToLogin(w http.ResponseWriter, r *http.Request) {
	target := "/login"
	if session.RejectionFromContext(r.Context()) != nil {
		target += "?m=signed-out"
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// redirect answers a form post with 303 See Other to path, with an
// optional message key (see messages) and count.
func redirect(w http.ResponseWriter, r *http.Request, path, msg string, n ...int) {
	redirectField(w, r, path, msg, "", n...)
}

// fieldID is the form of the field ids a redirect may name.
var fieldID = regexp.MustCompile(`^[a-z][a-z-]{0,31}$`)

// redirectField is redirect with an error about the form field with the
// id field on the page at path.
func redirectField(w http.ResponseWriter, r *http.Request, path, msg, field string, n ...int) {
	q := url.Values{}
	if msg != "" {
		q.Set("m", msg)
	}
	if field != "" {
		q.Set("f", field)
	}
	if len(n) > 0 {
		q.Set("n", strconv.Itoa(n[0]))
	}
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	http.Redirect(w, r, path, http.StatusSeeOther)
}

// message is a text a redirect can ask a page to show. The query carries
// only its key and an optional count, never text: nothing can be injected.
type message struct {
	Text string
	// Count is appended when the query has a count n: Count[0] for zero,
	// Count[1] for one, Count[2] (with %d) for more.
	Count [3]string
	// Kind is how the message looks and is announced: kindInfo (the
	// default), kindSuccess, or kindError (role="alert").
	Kind string
	// Field is the id of the form field an error is about: the field is
	// marked invalid and described by the message.
	Field string
}

// Kinds of messages.
const (
	kindInfo    = "info"
	kindSuccess = "success"
	kindError   = "error"
)

var messages = map[string]message{
	"signed-out":         {Text: "You were logged out. Please log in again.", Kind: kindError},
	"logged-out":         {Text: "You are logged out.", Kind: kindSuccess},
	"ended-everywhere":   {Text: "You were logged out everywhere.", Count: [3]string{"", "1 session ended.", "%d sessions ended."}, Kind: kindSuccess},
	"ended-one":          {Text: "That device is logged out: its next request goes to the login page.", Kind: kindSuccess},
	"ended-none":         {Text: "There were no other sessions to end."},
	"ended-others":       {Text: "All your other sessions were ended.", Count: [3]string{"No other device was logged in.", "1 session ended.", "%d sessions ended."}, Kind: kindSuccess},
	"welcome":            {Text: "Welcome! Your account is ready.", Kind: kindSuccess},
	"not-found":          {Text: "That session no longer exists.", Kind: kindError},
	"wrong-confirm":      {Text: "That password is not right, so nothing was changed.", Kind: kindError, Field: "password"},
	"too-many-passwords": {Text: "Too many wrong passwords. Please wait a while and try again; nothing was changed.", Kind: kindError, Field: "password"},
	"recovery-used": {Text: "You logged in with a recovery code. Each code works only once.", Kind: kindSuccess,
		Count: [3]string{"You have no recovery codes left: generate new ones now.", "You have 1 recovery code left.", "You have %d recovery codes left."}},
	"2fa-enabled":     {Text: "Two-factor authentication is on. You'll need your authenticator app when you log in.", Kind: kindSuccess},
	"2fa-disabled":    {Text: "Two-factor authentication is off.", Kind: kindSuccess},
	"2fa-cancelled":   {Text: "Setup cancelled. Two-factor authentication stays off."},
	"2fa-on-already":  {Text: "Two-factor authentication is already on."},
	"2fa-off-already": {Text: "Two-factor authentication is not on.", Kind: kindError},
	"wrong-code":      {Text: wrongCodeText, Kind: kindError, Field: "code"},
	"replayed-code":   {Text: replayedCodeText, Kind: kindError, Field: "code"},
	"locked": {Text: "Too many wrong codes, so codes are not checked for now.", Kind: kindError, Field: "code",
		Count: [3]string{"Try again in a minute.", "Try again in 1 minute.", "Try again in %d minutes."}},
	"setup-expired":     {Text: "That setup is no longer available. Start again.", Kind: kindError},
	"browser-trusted":   {Text: "This browser is trusted: logging in here won't ask for a code for 30 days.", Kind: kindSuccess},
	"browser-removed":   {Text: "That browser is no longer trusted: logging in there asks for a code again.", Kind: kindSuccess},
	"browser-not-found": {Text: "That browser is no longer trusted.", Kind: kindError},
	"passkey-added":     {Text: "Your security key or passkey was added: you can log in with it now.", Kind: kindSuccess},
	"passkey-renamed":   {Text: "The security key or passkey was renamed.", Kind: kindSuccess},
	"passkey-removed":   {Text: "That security key or passkey was removed: it can no longer log you in.", Kind: kindSuccess},
	"passkey-not-found": {Text: "That security key or passkey is not on your account.", Kind: kindError},
	"app-revoked":       {Text: "Access revoked. The app's token stopped working.", Kind: kindSuccess},
	"app-not-found":     {Text: "That app is no longer connected.", Kind: kindError},
	"password-changed": {Text: "Your password was changed.", Kind: kindSuccess,
		Count: [3]string{"No other session was logged in.", "1 other session was logged out.", "%d other sessions were logged out."}},
}

// The messages of a refused authenticator code: they tell each case apart,
// as the security log does (a replayed code was right, for a step already
// used; telling so reveals nothing an attacker could use, since the code
// can never be accepted again).
const (
	wrongCodeText    = "That code is not right. Check that it is the code for sessionguard example and that your phone's clock is set automatically, then try again."
	replayedCodeText = "That code was already used. Wait for the next code in your authenticator app (a new one every 30 seconds) and enter it."
)

// flash returns the message named by r's query, if any, with its text.
func flash(r *http.Request) (text string, msg message) {
	q := r.URL.Query()
	msg, ok := messages[q.Get("m")]
	if !ok {
		return "", message{}
	}
	text = msg.Text
	if n, err := strconv.Atoi(q.Get("n")); err == nil && n >= 0 && msg.Count != [3]string{} {
		var c string
		switch {
		case n == 0:
			c = msg.Count[0]
		case n == 1:
			c = msg.Count[1]
		default:
			c = fmt.Sprintf(msg.Count[2], n)
		}
		if c != "" {
			text += " " + c
		}
	}
	return text, msg
}

type pageData struct {
	Title string
	// Nav names the active navigation item.
	Nav     string
	User    *user
	Session *session.Session
	Message string
	// Success styles Message as a success.
	Success bool
	Error   string
	// Field is the id of the form field Error is about, if any: the field
	// gets aria-invalid and is described by the error, and takes the focus.
	Field string
	Form  url.Values
	Data  any
	// Now is the server's time, from which the page's script computes
	// relative times ("2 minutes ago").
	Now time.Time
	// Demo marks pages of an app started with -demo (made-up data).
	Demo bool
}

func (a *app) render(w http.ResponseWriter, r *http.Request, status int, name string, d pageData) {
	if s, ok := session.FromContext(r.Context()); ok && d.User == nil {
		d.Session = s
		d.User, _ = a.users.get(s.UserID)
	}
	if d.Message == "" && d.Error == "" {
		text, msg := flash(r)
		if msg.Kind == kindError {
			d.Error, d.Field = text, msg.Field
			// f names which field of the page the error is about, when it
			// has several (it is only ever compared with the templates' ids).
			if f := r.URL.Query().Get("f"); msg.Field != "" && fieldID.MatchString(f) {
				d.Field = f
			}
		} else {
			d.Message, d.Success = text, msg.Kind == kindSuccess
		}
	}
	d.Now = a.cfg.Clock()
	d.Demo = a.cfg.Demo
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := a.pages[name].ExecuteTemplate(w, "layout", d); err != nil {
		a.cfg.Logger.Error("example: rendering page", "page", name, "err", err)
	}
}

func (a *app) home(w http.ResponseWriter, r *http.Request) {
	s, ok := session.FromContext(r.Context())
	if !ok {
		a.unauthenticated(w, r)
		return
	}
	ctx := r.Context()
	st, err := a.tf.Status(ctx, s.UserID)
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	list, err := a.m.ListSessions(ctx, s.UserID, s)
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	apps, err := a.m.Apps().List(ctx, s.UserID)
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	a.render(w, r, http.StatusOK, "home", pageData{Title: "Home", Nav: "home", Data: homeView{
		TwoFactor: st, Sessions: len(list), Apps: len(apps),
	}})
}

type homeView struct {
	TwoFactor totp.Status
	Sessions  int
	Apps      int
}

// reauthenticate enforces the recent-authentication rule of sensitive
// actions (OWASP ASVS 7.5.2): a session that authenticated within the
// re-authentication window goes on; an older one must have sent its
// password with the form, which refreshes the session (and rotates its
// token). It returns the session to act as, or reports false after
// answering the request itself (back is where to send a wrong password).
func (a *app) reauthenticate(w http.ResponseWriter, r *http.Request, back string) (*session.Session, bool) {
	s, _ := session.FromContext(r.Context())
	if a.m.RecentlyAuthenticated(s) {
		return s, true
	}
	switch err := a.verifyOwnPassword(w, r, s.UserID, r.PostFormValue("password")); {
	case errors.Is(err, errTooManyPasswords):
		redirect(w, r, back, "too-many-passwords")
		return nil, false
	case errors.Is(err, errBadCredentials):
		redirect(w, r, back, "wrong-confirm")
		return nil, false
	case err != nil:
		a.serverError(w, r, err)
		return nil, false
	}
	s, err := a.m.Elevate(w, r, storage.AuthPassword)
	if err != nil {
		a.serverError(w, r, err)
		return nil, false
	}
	return s, true
}

func (a *app) serverError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, session.ErrRevoked) || errors.Is(err, session.ErrExpired) || errors.Is(err, session.ErrNoSession) {
		// The session ended while the request ran (another device logged
		// it out): the person is signed out, nothing went wrong.
		http.Redirect(w, r, "/login?m=signed-out", http.StatusSeeOther)
		return
	}
	a.cfg.Logger.Error("example: request failed", "path", r.URL.Path, "err", err)
	status := http.StatusInternalServerError
	if errors.Is(err, session.ErrUnavailable) {
		status = http.StatusServiceUnavailable
	}
	a.render(w, r, status, "error", pageData{Title: "Something went wrong", Error: "Something went wrong on our side. Please try again."})
}

// notFound answers every URL the app does not have with a page in its own
// style that says so and leads back.
func (a *app) notFound(w http.ResponseWriter, r *http.Request) {
	if a.methodNotAllowed(w, r) {
		return
	}
	if isAPI(r) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintln(w, `{"error":"not_found","message":"No such endpoint."}`)
		return
	}
	a.render(w, r, http.StatusNotFound, "not-found", pageData{Title: "Page not found"})
}

// methodNotAllowed answers 405 Method Not Allowed, with the Allow header,
// when r's path has a route for another method (the catch-all route would
// otherwise hide it), and reports whether it did.
func (a *app) methodNotAllowed(w http.ResponseWriter, r *http.Request) bool {
	var allow []string
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		if method == r.Method || a.mux == nil {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = method
		if _, pattern := a.mux.Handler(probe); pattern != "" && pattern != "/" {
			allow = append(allow, method)
		}
	}
	if len(allow) == 0 {
		return false
	}
	w.Header().Set("Allow", strings.Join(allow, ", "))
	http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
	return true
}
