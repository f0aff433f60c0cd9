package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/sessionguard/sessionguard/storage"
)

// Defaults of [Config]. The lifetimes are a social-app profile; for a
// stricter NIST SP 800-63B AAL2 profile use AbsoluteTimeout 24 h and
// IdleTimeout 1 h.
const (
	DefaultCookieName             = "__Host-session"
	DefaultInsecureCookieName     = "session"
	DefaultAbsoluteTimeout        = 30 * 24 * time.Hour
	DefaultIdleTimeout            = 7 * 24 * time.Hour
	DefaultSessionOnlyIdleTimeout = 2 * time.Hour
	DefaultPendingTimeout         = 10 * time.Minute
	DefaultReauthWindow           = 15 * time.Minute
	DefaultTouchInterval          = time.Minute
	DefaultRevocationTTL          = 30 * time.Second
	DefaultRevocationTTLNoNotify  = 5 * time.Second
	DefaultCacheSize              = 100_000
	DefaultClearSiteData          = `"cache", "cookies", "storage"`
	DefaultMaxBodyBytes           = 16 << 10
	DefaultEventRetention         = 365 * 24 * time.Hour
	DefaultStorageTimeout         = 5 * time.Second
	DefaultNewDeviceWindow        = 90 * 24 * time.Hour
)

// Locator resolves an IP address to an approximate location. It returns the
// zero Location, not an error, for addresses it knows nothing about.
// [github.com/sessionguard/sessionguard/session/geoip.Reader] implements it.
type Locator interface {
	Locate(ctx context.Context, ip netip.Addr) (storage.Location, error)
}

// Config configures a [Manager]. Only Store and Keys are required; every
// other field documents its default.
type Config struct {
	// Store keeps sessions and their revocation state. Required. The
	// Manager does not close it.
	Store storage.Store

	// Keys seal the session cookies: newest first. New cookies use
	// Keys[0]; cookies sealed with an older pair still decode and are
	// re-issued under Keys[0]; a cookie sealed with a pair no longer listed
	// is rejected. Required: at least one pair (see [GenerateKeyPair]).
	Keys []KeyPair

	// CookieName defaults to "__Host-session" ("session" when Insecure).
	// A name starting with "__Host-" requires Secure cookies.
	CookieName string

	// Insecure drops the Secure attribute and the "__Host-" prefix, for
	// development over plain HTTP on a host other than localhost. Never
	// set it in production. Default false.
	Insecure bool

	// SameSite defaults to http.SameSiteLaxMode. http.SameSiteNoneMode is
	// refused together with Insecure.
	SameSite http.SameSite

	// AbsoluteTimeout is the longest a session lives, however active.
	// Default 30 days.
	AbsoluteTimeout time.Duration

	// IdleTimeout ends a session without activity for that long. Default
	// 7 days. Activity is recorded at most once per TouchInterval, so the
	// effective idle timeout is up to TouchInterval longer.
	IdleTimeout time.Duration

	// SessionOnlyIdleTimeout is the idle timeout of a sign-in without
	// "remember me" ([LoginOptions.Remember] false: a browser-session
	// cookie, as on a shared computer). Default 2 hours, or IdleTimeout if
	// that is shorter; it may not exceed IdleTimeout.
	SessionOnlyIdleTimeout time.Duration

	// PendingTimeout is how long a sign-in may wait for its second factor:
	// a session at storage.AuthPendingSecondFactor expires that long after
	// it was created. Completing the second factor ([Manager.Elevate]) gives
	// it the full AbsoluteTimeout from its creation. Default 10 minutes.
	PendingTimeout time.Duration

	// ReauthWindow is how recent an authentication must be for sensitive
	// actions (revoke other sessions, revoke all, TOTP changes). Default 15
	// minutes.
	ReauthWindow time.Duration

	// TouchInterval is the least time between two last-activity writes
	// for one session. Default 1 minute.
	TouchInterval time.Duration

	// RevocationTTL is how long a cached "live" answer is trusted before
	// storage is asked again: the bound on how late another instance sees
	// a revocation when its notifier is down or the store has none.
	// Default 30 seconds, or 5 seconds when the store has no notifier; a
	// store that implements storage.BoundedNotifier sets the default to its
	// NotifyBound, within those two.
	RevocationTTL time.Duration

	// CacheSize is the number of sessions the revocation cache holds.
	// Default 100,000.
	CacheSize int

	// StorageTimeout bounds each storage call made on the request path.
	// Default 5 seconds.
	StorageTimeout time.Duration

	// Clock returns the current time. Default time.Now. Tests inject a
	// fake clock.
	Clock func() time.Time

	// Logger receives operational logs. It never receives tokens, session
	// IDs, handles of other users, or codes. Default slog.Default().
	Logger *slog.Logger

	// ErrorHandler answers a request when the session state cannot be
	// read (storage failure): the request is never authenticated in that
	// case. Default: 503 with {"error":"unavailable"}.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)

	// Unauthenticated answers requests refused by [Manager.RequireAuth]
	// (for example a redirect to a sign-in page). Default: 401 with
	// {"error":"unauthenticated"}. The library's own JSON routes, and
	// every handler wrapped by [Manager.JSONGuard], always get the JSON 401.
	Unauthenticated http.Handler

	// ClearSiteData is the Clear-Site-Data header value sent on logout.
	// Default `"cache", "cookies", "storage"`. Note that "cookies" clears
	// every cookie of the registrable domain.
	ClearSiteData string

	// TrustedOrigins are extra origins ("https://app.example.com") whose
	// cross-origin state-changing requests are allowed; see
	// http.CrossOriginProtection.AddTrustedOrigin. Default none.
	TrustedOrigins []string

	// CrossOriginBypass is the explicit opt-out of the cross-origin
	// protection that [Manager.Handler] applies to every request with an
	// unsafe method (POST, PUT, PATCH, DELETE…), sign-in included
	// (SECURITY.md §12): requests matching one of these http.ServeMux
	// patterns ("POST /saml/acs", "/webhooks/") pass even when a browser
	// sends them from another site, as an identity provider's form_post
	// does. Requests without Sec-Fetch-Site and Origin (servers, native
	// apps) pass anyway and need no entry. The pattern "/" turns the
	// protection off for everything but the library's own routes and
	// [Manager.Protect], which never bypass. Default none: every
	// cross-site unsafe request gets 403 {"error":"cross_origin"}. See
	// http.CrossOriginProtection.AddInsecureBypassPattern.
	CrossOriginBypass []string

	// TrustedProxies are the networks of reverse proxies whose
	// X-Forwarded-For or Forwarded headers are believed. Default none: the
	// client address is the connection's peer.
	TrustedProxies []netip.Prefix

	// ProxyHeader names the one forwarding header the TrustedProxies
	// write: "X-Forwarded-For" (default) or "Forwarded" (RFC 7239). Only
	// that header is read, so a client cannot choose its address by
	// sending the other one through a proxy that passes it on unchanged.
	ProxyHeader string

	// Locator resolves client IPs to approximate locations for the
	// sessions list and the security log. Default none.
	Locator Locator

	// OnEvent, if set, is called after every security event is stored
	// (for example to send a "new sign-in" e-mail). It runs on the
	// request's goroutine: keep it short or hand off.
	OnEvent func(ctx context.Context, e storage.Event)

	// NewDeviceWindow is how recently an account must have signed in from
	// a device and approximate location (browser and OS without versions,
	// country) for a sign-in from them not to be new: a completed sign-in
	// (password, or after its second factor) from anything else is
	// recorded as a "new_device_sign_in" event, delivered to OnEvent, for
	// an e-mail or a notice on the account's other sessions. An account's
	// first sign-in is not alerted. Default 90 days (capped in effect by
	// EventRetention, since the security log is what is read); negative
	// turns the alerts off.
	NewDeviceWindow time.Duration

	// EventRetention is how long security events are kept. Default 365
	// days.
	EventRetention time.Duration

	// MaxBodyBytes limits JSON request bodies. Default 16 KiB.
	MaxBodyBytes int64

	// DeviceBinding turns on Device Bound Session Credentials (DBSC): see
	// [DeviceBindingConfig]. The zero value leaves it off.
	DeviceBinding DeviceBindingConfig
	// MaxSessionsPerUser caps how many live sessions one user may hold.
	// A completed sign-in beyond it (Login, or for a user with a second
	// factor the Elevate that completes it) ends the user's least
	// recently used sessions (by last activity) until the cap holds, and
	// records a "session_ended_by_limit" event naming each, which the
	// user sees in the security log; the ended device's next request is
	// refused as revoked. A sign-in that passed only the password ends
	// nothing, and sessions pending their second factor do not count.
	// Under concurrent sign-ins of one user the cap holds once they have
	// all returned. Default 0: no limit.
	MaxSessionsPerUser int

	// MeterProvider receives the Manager's metrics (see the Metric
	// constants) and, through storage/otelstore, the store's call
	// durations. Default otel.GetMeterProvider(): the global provider,
	// a no-op until the application installs one.
	MeterProvider metric.MeterProvider

	// TracerProvider receives spans around storage calls and the JSON
	// routes (never on the cache-hit path). Default
	// otel.GetTracerProvider().
	TracerProvider trace.TracerProvider

	// PasswordThrottle is the policy of [Manager.PasswordThrottle]. The
	// zero value means the documented defaults (see
	// [PasswordThrottleConfig]).
	PasswordThrottle PasswordThrottleConfig

	// TrustedBrowsers configures [Manager.TrustedBrowsers] ("don't ask
	// for a code on this browser"). The zero value means the documented
	// defaults (see [TrustedBrowsersConfig]: 30 days).
	TrustedBrowsers TrustedBrowsersConfig
}

func (c *Config) setDefaults() {
	if c.CookieName == "" {
		c.CookieName = DefaultCookieName
		if c.Insecure {
			c.CookieName = DefaultInsecureCookieName
		}
	}
	if c.SameSite == 0 || c.SameSite == http.SameSiteDefaultMode {
		c.SameSite = http.SameSiteLaxMode
	}
	setDefault(&c.AbsoluteTimeout, DefaultAbsoluteTimeout)
	setDefault(&c.IdleTimeout, DefaultIdleTimeout)
	setDefault(&c.SessionOnlyIdleTimeout, min(DefaultSessionOnlyIdleTimeout, c.IdleTimeout))
	setDefault(&c.PendingTimeout, DefaultPendingTimeout)
	setDefault(&c.ReauthWindow, DefaultReauthWindow)
	setDefault(&c.TouchInterval, DefaultTouchInterval)
	setDefault(&c.StorageTimeout, DefaultStorageTimeout)
	setDefault(&c.EventRetention, DefaultEventRetention)
	setDefault(&c.CacheSize, DefaultCacheSize)
	setDefault(&c.MaxBodyBytes, DefaultMaxBodyBytes)
	setDefault(&c.NewDeviceWindow, DefaultNewDeviceWindow)
	c.DeviceBinding.setDefaults(c.Insecure)
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.ClearSiteData == "" {
		c.ClearSiteData = DefaultClearSiteData
	}
	c.PasswordThrottle.setDefaults()
	c.TrustedBrowsers.setDefaults(c.Insecure)
}

func setDefault[T int | int64 | time.Duration](v *T, def T) {
	if *v == 0 {
		*v = def
	}
}

func (c *Config) validate() error {
	var errs []error
	if c.Store == nil {
		errs = append(errs, errors.New("Store is required"))
	}
	if c.Insecure && c.SameSite == http.SameSiteNoneMode {
		errs = append(errs, errors.New("SameSite=None requires Secure cookies (Insecure is set)"))
	}
	if c.Insecure && len(c.CookieName) >= 7 && (c.CookieName[:7] == "__Host-" || c.CookieName[:7] == "__Secur") {
		errs = append(errs, fmt.Errorf("cookie name %q needs Secure cookies (Insecure is set)", c.CookieName))
	}
	for name, d := range map[string]time.Duration{
		"AbsoluteTimeout": c.AbsoluteTimeout, "IdleTimeout": c.IdleTimeout, "SessionOnlyIdleTimeout": c.SessionOnlyIdleTimeout, "PendingTimeout": c.PendingTimeout, "ReauthWindow": c.ReauthWindow,
		"TouchInterval": c.TouchInterval, "RevocationTTL": c.RevocationTTL, "StorageTimeout": c.StorageTimeout,
		"EventRetention": c.EventRetention,
	} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s is negative", name))
		}
	}
	if c.SessionOnlyIdleTimeout > c.IdleTimeout {
		errs = append(errs, errors.New("SessionOnlyIdleTimeout must not exceed IdleTimeout"))
	}
	if c.AbsoluteTimeout < time.Second {
		errs = append(errs, errors.New("AbsoluteTimeout must be at least one second"))
	}
	if h := http.CanonicalHeaderKey(c.ProxyHeader); h != "" && h != "X-Forwarded-For" && h != "Forwarded" {
		errs = append(errs, fmt.Errorf("ProxyHeader %q: want X-Forwarded-For or Forwarded", c.ProxyHeader))
	}
	if c.CacheSize < 0 || c.MaxBodyBytes < 0 || c.MaxSessionsPerUser < 0 {
		errs = append(errs, errors.New("CacheSize, MaxBodyBytes and MaxSessionsPerUser must not be negative"))
	}
	errs = append(errs, c.DeviceBinding.validate(c.CookieName)...)
	if err := c.PasswordThrottle.validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.TrustedBrowsers.validate(c); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("session: invalid Config: %w", err)
	}
	return nil
}
