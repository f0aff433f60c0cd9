package session

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sessionguard/sessionguard/internal/httpjson"
	"github.com/sessionguard/sessionguard/storage"
)

// AppTokenPrefix starts every app token, so that leaked tokens are easy to
// recognise (secret scanners) and never confused with other credentials.
const AppTokenPrefix = "sgapp_"

// appTokenLen is the length of an app token: prefix + 32 random bytes in
// unpadded base64url.
var appTokenLen = len(AppTokenPrefix) + base64.RawURLEncoding.EncodedLen(tokenSize)

// ErrInvalidToken: a bearer token is malformed, unknown or revoked.
var ErrInvalidToken = errors.New("session: invalid app token")

// AppTokens are the bearer tokens of connected third-party apps ("connected
// apps"): granting, checking, listing and revoking them. A grant's token is
// checked through the Manager's revocation cache, like a session cookie,
// and a revoked grant dies at once here and within the notifier bound on
// other instances (RFC 7009 §2.1–2.2, SECURITY.md §20). Get them with
// [Manager.Apps]; safe for concurrent use.
type AppTokens struct {
	cfg     *Config
	cache   *revocationCache
	log     *SecurityLog
	ttl     time.Duration
	noStore []string
	fail    func(w http.ResponseWriter, r *http.Request, err error)
	tel     *telemetry
}

// Apps returns the Manager's app tokens, which share its store, clock and
// revocation cache.
func (m *Manager) Apps() *AppTokens { return m.apps }

// Grant is a connected third-party app's access to a user's account, as put
// in the request context by [AppTokens.Handler]. Treat it as read-only.
type Grant struct {
	ID         string
	UserID     string
	AppName    string
	Scopes     []string
	CreatedAt  time.Time
	LastUsedAt time.Time

	tokenHash storage.TokenHash
}

// HasScope reports whether the grant includes scope.
func (g *Grant) HasScope(scope string) bool { return slices.Contains(g.Scopes, scope) }

type grantKey struct{}

// GrantFromContext returns the app grant that authenticated the request.
func GrantFromContext(ctx context.Context) (*Grant, bool) {
	g, ok := ctx.Value(grantKey{}).(*Grant)
	return g, ok
}

// Grant gives a third-party app access to userID's account with the
// given scopes and returns the bearer token — shown to the app once,
// stored only as its SHA-256 — and the grant. It records an
// "app_authorized" event with what a tells.
func (t *AppTokens) Grant(ctx context.Context, a Audit, userID, appName string, scopes []string) (string, *Grant, error) {
	if userID == "" || len(userID) > MaxUserIDLength {
		return "", nil, errors.New("session: AppTokens.Grant: invalid user ID")
	}
	if appName == "" || len(appName) > 100 || !utf8.ValidString(appName) {
		return "", nil, errors.New("session: AppTokens.Grant: app name must be 1 to 100 bytes of UTF-8")
	}
	for _, s := range scopes {
		if s == "" || len(s) > 64 || strings.ContainsAny(s, " \t\r\n") {
			return "", nil, fmt.Errorf("session: AppTokens.Grant: invalid scope %q", s)
		}
	}
	secret, err := randomBytes(tokenSize)
	if err != nil {
		return "", nil, err
	}
	id, err := newHandle()
	if err != nil {
		return "", nil, err
	}
	now := t.cfg.Clock()
	g := &storage.AppGrant{
		ID: id, UserID: userID, AppName: appName, Scopes: slices.Clone(scopes),
		TokenHash: storage.HashToken(secret), CreatedAt: now,
	}
	if err := t.cfg.Store.CreateAppGrant(ctx, g); err != nil {
		return "", nil, fmt.Errorf("%w: creating app grant: %w", ErrUnavailable, err)
	}
	t.log.Record(ctx, a, userID, storage.EventAppAuthorized, appName)
	return AppTokenPrefix + base64.RawURLEncoding.EncodeToString(secret), grantFromStorage(g), nil
}

// parseAppToken checks the form of an app token and returns its hash
// without allocating.
func parseAppToken(tok string) (storage.TokenHash, bool) {
	if len(tok) != appTokenLen || !strings.HasPrefix(tok, AppTokenPrefix) {
		return storage.TokenHash{}, false
	}
	var raw [tokenSize + 1]byte
	n, err := base64.RawURLEncoding.Decode(raw[:], []byte(tok[len(AppTokenPrefix):]))
	if err != nil || n != tokenSize {
		return storage.TokenHash{}, false
	}
	return storage.HashToken(raw[:tokenSize]), true
}

// bearer extracts the token of an "Authorization: Bearer" header.
func bearer(r *http.Request) (string, bool) {
	v := r.Header.Get("Authorization")
	if len(v) < 7 || !strings.EqualFold(v[:7], "Bearer ") {
		return "", false
	}
	return strings.TrimSpace(v[7:]), true
}

// Check validates the request's bearer token against the server-side
// grants, through the same revocation cache as sessions. It returns
// [ErrNoSession] without an "Authorization: Bearer" header,
// [ErrInvalidToken] for a malformed, unknown or revoked token, and an
// error matching [ErrUnavailable] when storage fails (fail closed).
func (t *AppTokens) Check(r *http.Request) (*Grant, error) {
	tok, ok := bearer(r)
	if !ok {
		return nil, ErrNoSession
	}
	h, ok := parseAppToken(tok)
	if !ok {
		return nil, ErrInvalidToken
	}
	now := t.cfg.Clock()
	nowNS := now.UnixNano()
	e, gen := t.cache.get(h, nowNS)
	if e == nil || (e.live() && nowNS >= e.validUntil) {
		var err error
		if e, err = t.fill(r.Context(), h, gen, now); err != nil {
			return nil, err
		}
	}
	if e.grant == nil {
		return nil, ErrInvalidToken
	}
	if nowNS-e.lastSeen.Load() >= int64(t.cfg.TouchInterval) && e.touching.CompareAndSwap(false, true) {
		ctx, cancel := context.WithTimeout(r.Context(), t.cfg.StorageTimeout)
		err := t.cfg.Store.TouchAppGrant(ctx, h, now)
		cancel()
		e.touching.Store(false)
		switch {
		case errors.Is(err, storage.ErrNotFound):
			t.cache.tombstone(h, e.userID)
			return nil, ErrInvalidToken
		case err != nil:
			t.cfg.Logger.Warn("session: recording app use failed", "err", err)
		default:
			e.lastSeen.Store(nowNS)
		}
	}
	return e.grant, nil
}

func (t *AppTokens) fill(ctx context.Context, h storage.TokenHash, gen uint64, now time.Time) (*entry, error) {
	ctx, cancel := context.WithTimeout(ctx, t.cfg.StorageTimeout)
	defer cancel()
	g, err := t.cfg.Store.GetAppGrant(ctx, h)
	if errors.Is(err, storage.ErrNotFound) {
		e := &entry{}
		t.cache.fill(h, e, gen)
		return e, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	e := &entry{grant: grantFromStorage(g), userID: g.UserID, validUntil: now.Add(t.ttl).UnixNano()}
	e.lastSeen.Store(g.LastUsedAt.UnixNano())
	t.cache.fill(h, e, gen)
	return e, nil
}

// Handler authenticates "Authorization: Bearer <app token>" requests and
// puts the grant in the context ([GrantFromContext]). Requests without a
// bearer token pass through; a malformed, unknown or revoked token gets 401
// with a WWW-Authenticate challenge (RFC 6750 §3); a storage failure goes
// to [Config.ErrorHandler].
func (t *AppTokens) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g, err := t.Check(r)
		switch {
		case err == nil:
			w.Header()["Cache-Control"] = t.noStore
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), grantKey{}, g)))
		case errors.Is(err, ErrNoSession):
			next.ServeHTTP(w, r)
		case errors.Is(err, ErrUnavailable):
			t.cfg.Logger.Error("session: cannot check app token; refusing request", "err", err, "path", r.URL.Path)
			t.tel.failClosed.Add(r.Context(), 1)
			t.fail(w, r, err)
		default:
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			httpjson.Error(w, http.StatusUnauthorized, "invalid_token", "The access token is invalid or was revoked.")
		}
	})
}

// RequireScope lets through only requests authenticated by an app grant
// that includes scope: 401 without a grant, 403 insufficient_scope
// otherwise (RFC 6750 §3.1).
func (t *AppTokens) RequireScope(scope string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g, ok := GrantFromContext(r.Context())
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer`)
			httpjson.Error(w, http.StatusUnauthorized, "invalid_token", "An app access token is required.")
			return
		}
		if !g.HasScope(scope) {
			w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope", scope="`+scope+`"`)
			httpjson.Error(w, http.StatusForbidden, "insufficient_scope", "The access token lacks the "+strconv.Quote(scope)+" scope.")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// AppInfo is one entry of a user's connected-apps list. It never holds the
// token.
type AppInfo struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Scopes     []string   `json:"scopes"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

// List returns userID's connected apps, newest first.
func (t *AppTokens) List(ctx context.Context, userID string) ([]AppInfo, error) {
	grants, err := t.cfg.Store.ListAppGrants(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("%w: listing apps: %w", ErrUnavailable, err)
	}
	out := make([]AppInfo, 0, len(grants))
	for _, g := range grants {
		info := AppInfo{ID: g.ID, Name: g.AppName, Scopes: g.Scopes, CreatedAt: g.CreatedAt}
		if info.Scopes == nil {
			info.Scopes = []string{}
		}
		if !g.LastUsedAt.IsZero() {
			last := g.LastUsedAt
			info.LastUsedAt = &last
		}
		out = append(out, info)
	}
	return out, nil
}

// Revoke revokes userID's app grant id: its token stops working at once on
// this instance and within the notifier bound elsewhere (RFC 7009 §2.1).
// Another user's grant gives [ErrNotFound], like an unknown one
// (SECURITY.md §10). It records an "app_revoked" event with what a tells.
func (t *AppTokens) Revoke(ctx context.Context, a Audit, userID, id string) error {
	g, err := t.cfg.Store.RevokeAppGrant(ctx, userID, id)
	if errors.Is(err, storage.ErrNotFound) {
		return ErrNotFound
	} else if err != nil {
		return fmt.Errorf("%w: revoking app: %w", ErrUnavailable, err)
	}
	t.cache.tombstone(g.TokenHash, userID)
	t.log.Record(ctx, a, userID, storage.EventAppRevoked, g.AppName)
	return nil
}

// RevokeAll revokes every app grant of userID and returns how many. When
// there were any, it records an "app_revoked" event with what a tells.
func (t *AppTokens) RevokeAll(ctx context.Context, a Audit, userID string) (int, error) {
	n, err := t.cfg.Store.RevokeUserAppGrants(ctx, userID)
	if err != nil {
		return 0, fmt.Errorf("%w: revoking apps: %w", ErrUnavailable, err)
	}
	t.cache.forgetUser(userID, storage.TokenHash{})
	if n > 0 {
		t.log.Record(ctx, a, userID, storage.EventAppRevoked, strconv.Itoa(n)+" apps")
	}
	return n, nil
}

func grantFromStorage(g *storage.AppGrant) *Grant {
	return &Grant{
		ID: g.ID, UserID: g.UserID, AppName: g.AppName, Scopes: slices.Clone(g.Scopes),
		CreatedAt: g.CreatedAt, LastUsedAt: g.LastUsedAt, tokenHash: g.TokenHash,
	}
}
