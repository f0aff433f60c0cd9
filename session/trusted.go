package session

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/securecookie"

	"github.com/sessionguard/sessionguard/internal/device"
	"github.com/sessionguard/sessionguard/internal/httpjson"
	"github.com/sessionguard/sessionguard/storage"
)

// Defaults of [TrustedBrowsersConfig].
const (
	DefaultTrustedBrowserDuration           = 30 * 24 * time.Hour
	DefaultTrustedBrowserCookieName         = "__Host-trusted-browser"
	DefaultInsecureTrustedBrowserCookieName = "trusted-browser"
	DefaultMaxTrustedBrowsers               = 20
)

// TrustedBrowsersConfig is [Config.TrustedBrowsers]. Its zero value means
// the documented defaults.
type TrustedBrowsersConfig struct {
	// Duration is how long a browser stays trusted after the second
	// factor that trusted it. Default 30 days.
	Duration time.Duration
	// CookieName defaults to "__Host-trusted-browser" ("trusted-browser"
	// when Config.Insecure).
	CookieName string
	// MaxPerUser is how many trusted browsers a user keeps; trusting one
	// more removes the oldest. Default 20.
	MaxPerUser int
}

func (c *TrustedBrowsersConfig) setDefaults(insecure bool) {
	setDefault(&c.Duration, DefaultTrustedBrowserDuration)
	setDefault(&c.MaxPerUser, DefaultMaxTrustedBrowsers)
	if c.CookieName == "" {
		c.CookieName = DefaultTrustedBrowserCookieName
		if insecure {
			c.CookieName = DefaultInsecureTrustedBrowserCookieName
		}
	}
}

func (c *TrustedBrowsersConfig) validate(cfg *Config) error {
	if c.Duration < time.Minute || c.MaxPerUser < 1 {
		return errors.New("TrustedBrowsers: Duration must be at least a minute and MaxPerUser at least 1")
	}
	if c.CookieName == cfg.CookieName {
		return errors.New("TrustedBrowsers.CookieName must differ from CookieName")
	}
	if cfg.Insecure && len(c.CookieName) >= 7 && (c.CookieName[:7] == "__Host-" || c.CookieName[:7] == "__Secur") {
		return fmt.Errorf("TrustedBrowsers.CookieName %q needs Secure cookies (Insecure is set)", c.CookieName)
	}
	return nil
}

// TrustedBrowserInfo is one trusted browser as listed by
// [TrustedBrowsers.List] and served by GET /trusted-browsers.
type TrustedBrowserInfo struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"created_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	IP         string    `json:"ip,omitempty"`
	Device     string    `json:"device,omitempty"`
	Location   string    `json:"location,omitempty"`
	// Current: the request that listed it comes from this browser.
	Current bool `json:"current"`
}

// TrustedBrowsers is "don't ask for a code on this browser again": after a
// successful second factor the user may trust the browser for
// [TrustedBrowsersConfig.Duration], and a later sign-in there with the
// password alone is complete (the totp package's SignIn consults
// [TrustedBrowsers.Trusted]). The trust is a server-side record, listed
// and revocable one by one, plus a cookie sealed with the session cookie
// keys (authenticated and encrypted) that names the record and its user:
// the cookie alone proves nothing once the record is gone, and a record
// is used only by the user it belongs to. All of a user's trusted browsers
// end on [Manager.PasswordChanged], [Manager.LogoutEverywhere] and when
// the second factor is turned off. Get it with [Manager.TrustedBrowsers];
// it is safe for concurrent use.
type TrustedBrowsers struct {
	cfg    *Config
	tc     TrustedBrowsersConfig
	coders []securecookie.Codec
	log    *SecurityLog
	secure bool
}

// trustedCookie is the sealed content of the trusted-browser cookie.
type trustedCookie struct {
	User string `json:"u"`
	ID   string `json:"i"`
}

func newTrustedBrowsers(cfg *Config, log *SecurityLog) *TrustedBrowsers {
	t := &TrustedBrowsers{cfg: cfg, tc: cfg.TrustedBrowsers, log: log, secure: !cfg.Insecure}
	for _, k := range cfg.Keys { // validated by newCodec
		sc := securecookie.New(k.HashKey, k.BlockKey)
		sc.SetSerializer(securecookie.JSONEncoder{})
		sc.MaxAge(int(t.tc.Duration / time.Second))
		sc.MaxLength(maxCookieSize)
		t.coders = append(t.coders, sc)
	}
	return t
}

// TrustedBrowsers returns the Manager's trusted browsers.
func (m *Manager) TrustedBrowsers() *TrustedBrowsers { return m.trusted }

// Trust trusts the request's browser for userID: it stores a record (with
// the client address, device and location of a's request) and sets the
// sealed cookie on w. Call it only right after userID passed a second
// factor on this request, when the user asked for it. It removes userID's
// expired records and, beyond MaxPerUser, the oldest, and records a
// "browser_trusted" event.
func (t *TrustedBrowsers) Trust(w http.ResponseWriter, r *http.Request, a Audit, userID string) (TrustedBrowserInfo, error) {
	if userID == "" || len(userID) > MaxUserIDLength {
		return TrustedBrowserInfo{}, fmt.Errorf("session: Trust: user ID must be 1 to %d bytes", MaxUserIDLength)
	}
	ctx, cancel := context.WithTimeout(r.Context(), t.cfg.StorageTimeout)
	defer cancel()
	id, err := newHandle()
	if err != nil {
		return TrustedBrowserInfo{}, err
	}
	now := t.cfg.Clock()
	b := storage.TrustedBrowser{ID: id, UserID: userID, CreatedAt: now, ExpiresAt: now.Add(t.tc.Duration), LastUsedAt: now}
	if a.Request != nil {
		act := t.log.activity(ctx, a.Request, now)
		b.IP, b.Device, b.Location = act.IP, device.Label(act.Device), LocationLabel(act.Location)
	}
	if err := t.prune(ctx, userID, now); err != nil {
		return TrustedBrowserInfo{}, err
	}
	if err := t.cfg.Store.CreateTrustedBrowser(ctx, &b); err != nil {
		return TrustedBrowserInfo{}, fmt.Errorf("%w: trusting browser: %w", ErrUnavailable, err)
	}
	value, err := securecookie.EncodeMulti(t.tc.CookieName, trustedCookie{User: userID, ID: id}, t.coders[0])
	if err != nil {
		return TrustedBrowserInfo{}, fmt.Errorf("session: encoding trusted-browser cookie: %w", err)
	}
	http.SetCookie(w, &http.Cookie{
		Name: t.tc.CookieName, Value: value, Path: "/",
		Expires: b.ExpiresAt, MaxAge: int(t.tc.Duration / time.Second),
		Secure: t.secure, HttpOnly: true, SameSite: t.cfg.SameSite,
	})
	t.log.Record(ctx, a, userID, storage.EventBrowserTrusted, "")
	info := infoOf(b)
	info.Current = true
	return info, nil
}

// prune removes userID's expired records and the oldest beyond
// MaxPerUser-1, making room for one more.
func (t *TrustedBrowsers) prune(ctx context.Context, userID string, now time.Time) error {
	list, err := t.cfg.Store.ListTrustedBrowsers(ctx, userID)
	if err != nil {
		return fmt.Errorf("%w: listing trusted browsers: %w", ErrUnavailable, err)
	}
	live := 0
	for _, b := range list { // newest first
		if now.Before(b.ExpiresAt) && live < t.tc.MaxPerUser-1 {
			live++
			continue
		}
		if err := t.cfg.Store.DeleteTrustedBrowser(ctx, userID, b.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("%w: removing a trusted browser: %w", ErrUnavailable, err)
		}
	}
	return nil
}

// cookieRecord returns the record ID r's cookie names for userID, or "".
func (t *TrustedBrowsers) cookieRecord(r *http.Request, userID string) string {
	c, err := r.Cookie(t.tc.CookieName)
	if err != nil || len(t.tc.CookieName)+1+len(c.Value) > maxCookieSize {
		return ""
	}
	var tc trustedCookie
	if securecookie.DecodeMulti(t.tc.CookieName, c.Value, &tc, t.coders...) != nil || tc.User != userID {
		return ""
	}
	return tc.ID
}

// Trusted reports whether r comes from a browser userID trusted: its
// sealed cookie names a record of userID that exists and has not
// expired. It records the use (LastUsedAt). Any doubt — no cookie, a
// cookie of another user or sealed by a removed key, a revoked or expired
// record, a storage error (logged) — is false: the second factor is asked
// for.
func (t *TrustedBrowsers) Trusted(r *http.Request, userID string) bool {
	id := t.cookieRecord(r, userID)
	if id == "" {
		return false
	}
	ctx, cancel := context.WithTimeout(r.Context(), t.cfg.StorageTimeout)
	defer cancel()
	b, err := t.cfg.Store.GetTrustedBrowser(ctx, userID, id)
	if err != nil {
		if !errors.Is(err, storage.ErrNotFound) {
			t.cfg.Logger.Warn("session: reading a trusted browser failed; asking for the second factor", "err", err)
		}
		return false
	}
	now := t.cfg.Clock()
	if !now.Before(b.ExpiresAt) {
		return false
	}
	if err := t.cfg.Store.TouchTrustedBrowser(ctx, userID, id, now); err != nil {
		t.cfg.Logger.Warn("session: recording a trusted browser's use failed", "err", err)
	}
	return true
}

// List returns userID's live trusted browsers, newest first (Current is
// false: GET /trusted-browsers marks the requesting browser's).
func (t *TrustedBrowsers) List(ctx context.Context, userID string) ([]TrustedBrowserInfo, error) {
	list, err := t.cfg.Store.ListTrustedBrowsers(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("%w: listing trusted browsers: %w", ErrUnavailable, err)
	}
	now := t.cfg.Clock()
	out := make([]TrustedBrowserInfo, 0, len(list))
	for _, b := range list {
		if now.Before(b.ExpiresAt) {
			out = append(out, infoOf(b))
		}
	}
	return out, nil
}

// Revoke ends the trust of userID's browser id. Another user's ID gives
// [ErrNotFound], exactly like an unknown one. It records a
// "trusted_browser_revoked" event.
func (t *TrustedBrowsers) Revoke(ctx context.Context, a Audit, userID, id string) error {
	err := t.cfg.Store.DeleteTrustedBrowser(ctx, userID, id)
	if errors.Is(err, storage.ErrNotFound) {
		return ErrNotFound
	} else if err != nil {
		return fmt.Errorf("%w: revoking a trusted browser: %w", ErrUnavailable, err)
	}
	t.log.Record(ctx, a, userID, storage.EventTrustedBrowserRevoked, "")
	return nil
}

// RevokeAll ends the trust of all of userID's browsers and returns how
// many there were. It records a "trusted_browsers_revoked" event when
// there was any.
func (t *TrustedBrowsers) RevokeAll(ctx context.Context, a Audit, userID string) (int, error) {
	n, err := t.cfg.Store.DeleteTrustedBrowsers(ctx, userID)
	if err != nil {
		return 0, fmt.Errorf("%w: revoking trusted browsers: %w", ErrUnavailable, err)
	}
	if n > 0 {
		t.log.Record(ctx, a, userID, storage.EventTrustedBrowsersRevoked, fmt.Sprint(n))
	}
	return n, nil
}

func infoOf(b storage.TrustedBrowser) TrustedBrowserInfo {
	return TrustedBrowserInfo{ID: b.ID, CreatedAt: b.CreatedAt, ExpiresAt: b.ExpiresAt, LastUsedAt: b.LastUsedAt, IP: b.IP, Device: b.Device, Location: b.Location}
}

func (m *Manager) serveTrustedBrowsers(w http.ResponseWriter, r *http.Request) {
	s, _ := FromContext(r.Context())
	list, err := m.trusted.List(r.Context(), s.UserID)
	if err != nil {
		m.writeError(w, r, err)
		return
	}
	current := m.trusted.cookieRecord(r, s.UserID)
	for i := range list {
		list[i].Current = list[i].ID == current
	}
	httpjson.Write(w, http.StatusOK, struct {
		TrustedBrowsers []TrustedBrowserInfo `json:"trusted_browsers"`
	}{list})
}

func (m *Manager) serveRevokeTrustedBrowser(w http.ResponseWriter, r *http.Request) {
	s, _ := FromContext(r.Context())
	if err := m.trusted.Revoke(r.Context(), Audit{Request: r}, s.UserID, r.PathValue("id")); err != nil {
		if errors.Is(err, ErrNotFound) {
			httpjson.Error(w, http.StatusNotFound, "not_found", "No such trusted browser.")
			return
		}
		m.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
