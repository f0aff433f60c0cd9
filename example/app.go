package main

import (
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/sessionguard/sessionguard/session"
	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/memory"
	"golang.org/x/crypto/bcrypt"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

type appConfig struct {
	DataDir string
	Logger  *slog.Logger
	// Clock, if set, replaces time.Now (tests).
	Clock func() time.Time
	// BcryptCost defaults to bcrypt.DefaultCost.
	BcryptCost int
}

// app is the example web application.
type app struct {
	cfg   appConfig
	store storage.Store
	m     *session.Manager
	users *userStore
	pages map[string]*template.Template
}

func newApp(cfg appConfig) (*app, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.BcryptCost == 0 {
		cfg.BcryptCost = bcrypt.DefaultCost
	}
	keys, err := loadOrCreateKeys(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	store := memory.New(memory.Options{})
	m, err := session.New(session.Config{
		Store: store,
		Keys:  keys.Cookie,
		// The example serves plain HTTP: cookies without Secure, so that
		// every browser keeps them. Serve HTTPS and drop this in production.
		Insecure:        true,
		Clock:           cfg.Clock,
		Logger:          cfg.Logger,
		Unauthenticated: http.HandlerFunc(redirectToLogin),
	})
	if err != nil {
		store.Close()
		return nil, err
	}
	users, err := newUserStore(cfg.BcryptCost)
	if err == nil {
		_, err = users.create(demoUser, demoPassword)
	}
	if err != nil {
		m.Close()
		store.Close()
		return nil, err
	}
	pages, err := parsePages()
	if err != nil {
		m.Close()
		store.Close()
		return nil, err
	}
	return &app{cfg: cfg, store: store, m: m, users: users, pages: pages}, nil
}

func (a *app) Close() error {
	a.m.Close()
	return a.store.Close()
}

// Handler returns the whole app behind the session middleware.
func (a *app) Handler() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.Handle("/auth/", http.StripPrefix("/auth", a.m.Routes()))

	mux.HandleFunc("GET /{$}", a.home)
	mux.HandleFunc("GET /login", a.loginPage)
	mux.Handle("POST /login", a.m.Protect(http.HandlerFunc(a.login)))
	mux.HandleFunc("GET /signup", a.signupPage)
	mux.Handle("POST /signup", a.m.Protect(http.HandlerFunc(a.signup)))
	mux.Handle("POST /logout", a.m.Protect(http.HandlerFunc(a.logout)))
	mux.Handle("GET /sessions", a.m.RequireAuth(http.HandlerFunc(a.sessionsPage)))
	mux.Handle("POST /sessions/{id}/logout", a.m.Protect(a.m.RequireAuth(http.HandlerFunc(a.endSession))))
	mux.Handle("POST /sessions/logout-others", a.m.Protect(a.m.RequireAuth(http.HandlerFunc(a.endOtherSessions))))
	return a.m.Handler(securityHeaders(mux))
}

// securityHeaders sets the headers every page of the example carries.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

func redirectToLogin(w http.ResponseWriter, r *http.Request) {
	q := url.Values{}
	if session.RejectionFromContext(r.Context()) != nil {
		q.Set("m", "signed-out")
	}
	target := "/login"
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// messages are the only texts a redirect can ask a page to show: the
// query carries a key, never the text, so nothing can be injected.
var messages = map[string]string{
	"signed-out":    "You were signed out. Please sign in again.",
	"logged-out":    "You are signed out.",
	"ended-one":     "The session was ended. That device is signed out.",
	"ended-none":    "There were no other sessions to end.",
	"ended-others":  "All your other sessions were ended.",
	"welcome":       "Welcome! Your account is ready.",
	"not-found":     "That session no longer exists.",
	"wrong-confirm": "That password is not right, so nothing was changed.",
}

type pageData struct {
	Title   string
	User    *user
	Session *session.Session
	Message string
	Error   string
	Form    url.Values
	Data    any
}

func (a *app) render(w http.ResponseWriter, r *http.Request, status int, name string, d pageData) {
	if s, ok := session.FromContext(r.Context()); ok && d.User == nil {
		d.Session = s
		d.User, _ = a.users.get(s.UserID)
	}
	if d.Message == "" {
		d.Message = messages[r.URL.Query().Get("m")]
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := a.pages[name].ExecuteTemplate(w, "layout", d); err != nil {
		a.cfg.Logger.Error("example: rendering page", "page", name, "err", err)
	}
}

func (a *app) home(w http.ResponseWriter, r *http.Request) {
	if _, ok := session.FromContext(r.Context()); !ok {
		redirectToLogin(w, r)
		return
	}
	a.render(w, r, http.StatusOK, "home", pageData{Title: "Home"})
}

func (a *app) loginPage(w http.ResponseWriter, r *http.Request) {
	if _, ok := session.FromContext(r.Context()); ok {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	a.render(w, r, http.StatusOK, "login", pageData{Title: "Sign in"})
}

func (a *app) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	username, password := r.PostFormValue("username"), r.PostFormValue("password")
	u, err := a.users.authenticate(username, password)
	if err != nil {
		a.render(w, r, http.StatusUnauthorized, "login", pageData{Title: "Sign in", Error: "Wrong username or password.", Form: url.Values{"username": {username}}})
		return
	}
	if _, err := a.m.Login(w, r, u.ID, storage.AuthPassword); err != nil {
		a.serverError(w, r, err)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (a *app) signupPage(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, http.StatusOK, "signup", pageData{Title: "Create account"})
}

func (a *app) signup(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	username, password := r.PostFormValue("username"), r.PostFormValue("password")
	u, err := a.users.create(username, password)
	if err != nil {
		a.render(w, r, http.StatusBadRequest, "signup", pageData{Title: "Create account", Error: err.Error(), Form: url.Values{"username": {username}}})
		return
	}
	if _, err := a.m.Login(w, r, u.ID, storage.AuthPassword); err != nil {
		a.serverError(w, r, err)
		return
	}
	http.Redirect(w, r, "/?m=welcome", http.StatusSeeOther)
}

func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	if err := a.m.Logout(w, r); err != nil && errors.Is(err, session.ErrUnavailable) {
		a.serverError(w, r, err)
		return
	}
	http.Redirect(w, r, "/login?m=logged-out", http.StatusSeeOther)
}

func (a *app) sessionsPage(w http.ResponseWriter, r *http.Request) {
	s, _ := session.FromContext(r.Context())
	list, err := a.m.ListSessions(r.Context(), s.UserID, s)
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	a.render(w, r, http.StatusOK, "sessions", pageData{Title: "Apps and sessions", Data: sessionsView{
		Sessions:     list,
		NeedsConfirm: !a.m.RecentlyAuthenticated(s),
		Now:          a.m.Now(),
	}})
}

type sessionsView struct {
	Sessions     []session.SessionInfo
	NeedsConfirm bool
	Now          time.Time
}

func (a *app) endSession(w http.ResponseWriter, r *http.Request) {
	s, _ := session.FromContext(r.Context())
	id := r.PathValue("id")
	err := a.m.Revoke(r.Context(), s.UserID, id)
	switch {
	case errors.Is(err, session.ErrNotFound):
		http.Redirect(w, r, "/sessions?m=not-found", http.StatusSeeOther)
	case err != nil:
		a.serverError(w, r, err)
	case id == s.Handle:
		a.m.Logout(w, r)
		http.Redirect(w, r, "/login?m=logged-out", http.StatusSeeOther)
	default:
		http.Redirect(w, r, "/sessions?m=ended-one", http.StatusSeeOther)
	}
}

// endOtherSessions is "Log out all other sessions". Like the JSON route it
// needs a recent authentication: the form asks for the password when the
// last one is older than the re-authentication window.
func (a *app) endOtherSessions(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	s, _ := session.FromContext(r.Context())
	if !a.m.RecentlyAuthenticated(s) {
		u, ok := a.users.get(s.UserID)
		if !ok {
			redirectToLogin(w, r)
			return
		}
		if _, err := a.users.authenticate(u.Username, r.PostFormValue("password")); err != nil {
			http.Redirect(w, r, "/sessions?m=wrong-confirm", http.StatusSeeOther)
			return
		}
		var err error
		if s, err = a.m.Elevate(w, r, storage.AuthPassword); err != nil {
			a.serverError(w, r, err)
			return
		}
	}
	n, err := a.m.RevokeOthers(r.Context(), s)
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	if n == 0 {
		http.Redirect(w, r, "/sessions?m=ended-none", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/sessions?m=ended-others", http.StatusSeeOther)
}

func (a *app) serverError(w http.ResponseWriter, r *http.Request, err error) {
	a.cfg.Logger.Error("example: request failed", "path", r.URL.Path, "err", err)
	status := http.StatusInternalServerError
	if errors.Is(err, session.ErrUnavailable) {
		status = http.StatusServiceUnavailable
	}
	a.render(w, r, status, "error", pageData{Title: "Something went wrong", Error: "Something went wrong on our side. Please try again."})
}
