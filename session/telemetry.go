package session

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/otelstore"
)

// ScopeName is the instrumentation scope of the Manager's meter and tracer.
const ScopeName = "github.com/sessionguard/sessionguard/session"

// The Manager's metrics (OpenTelemetry names; a Prometheus exporter turns
// dots into underscores and adds _total to counters and _seconds to the
// lag). Store call durations are recorded by
// [github.com/sessionguard/sessionguard/storage/otelstore].
const (
	// MetricCacheLookups counts revocation-cache lookups of requests with
	// a valid cookie, by sessionguard.cache.result: "hit" (answered
	// without storage I/O) or "miss" (one storage read). An asynchronous
	// counter: a lookup adds to a sharded atomic counter, read when the
	// metrics are collected, so the hit path never calls the SDK. Unit
	// {lookup}.
	MetricCacheLookups = "sessionguard.cache.lookups"
	// MetricCacheEvictions counts the revocation-cache entries (live
	// sessions, app grants and tombstones of revoked tokens) dropped to
	// make room for new ones because the cache was full
	// ([Config.CacheSize]); entries dropped by revocations are not
	// counted. An asynchronous counter, read from the cache's shards when
	// the metrics are collected. Unit {entry}.
	MetricCacheEvictions = "sessionguard.cache.evictions"
	// MetricFailClosed counts requests that [Manager.Handler] or
	// [AppTokens.Handler] refused because the session or grant state could
	// not be read (SECURITY.md §9). Unit {request}.
	MetricFailClosed = "sessionguard.session.fail_closed"
	// MetricSessionsStarted counts sign-ins, by sessionguard.auth.level.
	// Unit {session}.
	MetricSessionsStarted = "sessionguard.sessions.started"
	// MetricSessionsEnded counts sessions ended on purpose, by
	// sessionguard.session.end_reason (the EndReason constants). Sessions
	// that time out are not counted. Unit {session}.
	MetricSessionsEnded = "sessionguard.sessions.ended"
	// MetricSecurityEvents counts security-log events stored, by
	// sessionguard.event.type (the storage.EventType values: 2FA failures
	// are "second_factor_failed", lockouts "second_factor_locked_out").
	// Unit {event}.
	MetricSecurityEvents = "sessionguard.security.events"
	// MetricNotifierLag is the time from a revocation's commit to the
	// arrival of its notice at this Manager, measured with the notice's
	// own timestamp (storage.Revocation.CommittedAt; notices without one
	// are not measured). Unit s.
	MetricNotifierLag = "sessionguard.notifier.lag"
	// MetricNotifierResets counts Reset notices (connection lost or
	// regained, or notices missed). Unit {reset}.
	MetricNotifierResets = "sessionguard.notifier.resets"
	// MetricNotifierLive is 1 while the notifier is live, 0 while it is
	// down (see [NotifierHealth]); not reported for a store without a
	// notifier. Unit {state}.
	MetricNotifierLive = "sessionguard.notifier.live"
)

// Attribute names of the Manager's metrics.
const (
	AttrCacheResult = "sessionguard.cache.result"
	AttrAuthLevel   = "sessionguard.auth.level"
	AttrEndReason   = "sessionguard.session.end_reason"
	AttrEventType   = "sessionguard.event.type"
)

// EndReason says why sessions ended, as recorded in
// sessionguard.sessions.ended.
type EndReason string

// The reasons sessions end.
const (
	EndLogout           EndReason = "logout"            // Logout
	EndReplaced         EndReason = "replaced"          // a new sign-in on the same browser
	EndRevoked          EndReason = "revoked"           // Revoke
	EndRevokedOthers    EndReason = "revoked_others"    // RevokeOthers
	EndLogoutEverywhere EndReason = "logout_everywhere" // LogoutEverywhere
	EndRevokedAll       EndReason = "revoked_all"       // RevokeAll
	EndPasswordChanged  EndReason = "password_changed"  // PasswordChanged
	EndSessionLimit     EndReason = "session_limit"     // Config.MaxSessionsPerUser
	endReasonsNum                 = 8
)

var endReasons = [endReasonsNum]EndReason{EndLogout, EndReplaced, EndRevoked, EndRevokedOthers, EndLogoutEverywhere, EndRevokedAll, EndPasswordChanged, EndSessionLimit}

// telemetry holds the Manager's instruments and their pre-built attribute
// options: the hit path only adds to a counter with options built here, so
// it allocates nothing.
type telemetry struct {
	hits, misses     shardedCounter
	failClosed       metric.Int64Counter
	started          metric.Int64Counter
	startedOpts      map[storage.AuthLevel][]metric.AddOption
	ended            metric.Int64Counter
	endedOpts        map[EndReason][]metric.AddOption
	events           metric.Int64Counter
	eventOpts        map[storage.EventType][]metric.AddOption
	lag              metric.Float64Histogram
	resets           metric.Int64Counter
	liveRegistration metric.Registration
	tracer           trace.Tracer

	notifier notifierState
}

// notifierState is the notifier's liveness as told by the notices.
type notifierState struct {
	mu        sync.Mutex
	supported bool
	live      bool
	downSince time.Time
	resets    int64
}

// newTelemetry creates the instruments; cache, if not nil, is the
// revocation cache whose evictions it reports.
func newTelemetry(cfg *Config, cache *revocationCache) (*telemetry, error) {
	mp, tp := cfg.MeterProvider, cfg.TracerProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	meter := mp.Meter(ScopeName)
	t := &telemetry{tracer: tp.Tracer(ScopeName)}
	var err, e error
	counter := func(name, unit, desc string) metric.Int64Counter {
		c, e2 := meter.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		if e2 != nil && err == nil {
			err = e2
		}
		return c
	}
	t.failClosed = counter(MetricFailClosed, "{request}", "Requests refused because the session store could not answer.")
	t.started = counter(MetricSessionsStarted, "{session}", "Sessions started, by authentication level.")
	t.ended = counter(MetricSessionsEnded, "{session}", "Sessions ended on purpose, by reason.")
	t.events = counter(MetricSecurityEvents, "{event}", "Security-log events, by type.")
	t.resets = counter(MetricNotifierResets, "{reset}", "Reset notices from the revocation notifier.")
	t.lag, e = meter.Float64Histogram(MetricNotifierLag, metric.WithUnit("s"),
		metric.WithDescription("Time from a revocation's commit to the arrival of its notice."),
		metric.WithExplicitBucketBoundaries(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
	if err == nil {
		err = e
	}
	lookups, e := meter.Int64ObservableCounter(MetricCacheLookups, metric.WithUnit("{lookup}"),
		metric.WithDescription("Revocation-cache lookups, by result."))
	if err == nil {
		err = e
	}
	evictions, e := meter.Int64ObservableCounter(MetricCacheEvictions, metric.WithUnit("{entry}"),
		metric.WithDescription("Revocation-cache entries evicted to make room."))
	if err == nil {
		err = e
	}
	live, e := meter.Int64ObservableGauge(MetricNotifierLive, metric.WithUnit("{state}"),
		metric.WithDescription("1 while the revocation notifier is live, 0 while it is down."))
	if err == nil {
		err = e
	}
	if err != nil {
		return nil, fmt.Errorf("session: creating instruments: %w", err)
	}
	hitOpts := []metric.ObserveOption{metric.WithAttributeSet(attribute.NewSet(attribute.String(AttrCacheResult, "hit")))}
	missOpts := []metric.ObserveOption{metric.WithAttributeSet(attribute.NewSet(attribute.String(AttrCacheResult, "miss")))}
	t.liveRegistration, err = meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		o.ObserveInt64(lookups, t.hits.sum(), hitOpts...)
		o.ObserveInt64(lookups, t.misses.sum(), missOpts...)
		if cache != nil {
			o.ObserveInt64(evictions, cache.evictions())
		}
		h := t.notifierHealth()
		if h.Supported {
			v := int64(0)
			if h.Live {
				v = 1
			}
			o.ObserveInt64(live, v)
		}
		return nil
	}, lookups, evictions, live)
	if err != nil {
		return nil, fmt.Errorf("session: registering the notifier gauge: %w", err)
	}

	opts := func(kv attribute.KeyValue) []metric.AddOption {
		return []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(kv))}
	}
	t.startedOpts = map[storage.AuthLevel][]metric.AddOption{}
	for _, l := range []storage.AuthLevel{storage.AuthPendingSecondFactor, storage.AuthPassword, storage.AuthSecondFactor} {
		t.startedOpts[l] = opts(attribute.String(AttrAuthLevel, l.String()))
	}
	t.endedOpts = map[EndReason][]metric.AddOption{}
	for _, r := range endReasons {
		t.endedOpts[r] = opts(attribute.String(AttrEndReason, string(r)))
	}
	t.eventOpts = map[storage.EventType][]metric.AddOption{}
	for _, typ := range knownEvents {
		t.eventOpts[typ] = opts(attribute.String(AttrEventType, string(typ)))
	}
	return t, nil
}

// knownEvents have pre-built attributes; others are built per event.
var knownEvents = []storage.EventType{
	storage.EventSignedIn, storage.EventSignedOut, storage.EventSessionRevoked, storage.EventSignedOutEverywhere,
	storage.EventOtherSessionsRevoked, storage.EventPasswordChanged, storage.EventReauthenticated,
	storage.EventSecondFactorEnabled, storage.EventSecondFactorDisabled, storage.EventSecondFactorUsed,
	storage.EventRecoveryCodeUsed, storage.EventRecoveryCodesRenewed, storage.EventSecondFactorReplay,
	storage.EventSecondFactorLockout, storage.EventSecondFactorFailed, storage.EventAppAuthorized,
	storage.EventAppRevoked, storage.EventAllSessionsRevokedAdm, storage.EventSessionLimitReached,
}

func (t *telemetry) close() {
	if t.liveRegistration != nil {
		_ = t.liveRegistration.Unregister()
	}
}

// hit and miss count a cache lookup for token hash h.
func (t *telemetry) hit(h *storage.TokenHash)  { t.hits.add(h[0]) }
func (t *telemetry) miss(h *storage.TokenHash) { t.misses.add(h[0]) }

// shardedCounter is a counter that concurrent requests for different
// sessions rarely contend on: one padded cell per cache shard.
type shardedCounter [cacheShards]struct {
	n atomic.Int64
	_ [56]byte // a cell per 64-byte cache line
}

func (c *shardedCounter) add(i byte) { c[i&(cacheShards-1)].n.Add(1) }

func (c *shardedCounter) sum() int64 {
	var n int64
	for i := range c {
		n += c[i].n.Load()
	}
	return n
}

func (t *telemetry) sessionStarted(ctx context.Context, l storage.AuthLevel) {
	t.started.Add(ctx, 1, t.startedOpts[l]...)
}

func (t *telemetry) sessionsEnded(ctx context.Context, r EndReason, n int) {
	if n > 0 {
		t.ended.Add(ctx, int64(n), t.endedOpts[r]...)
	}
}

func (t *telemetry) event(ctx context.Context, typ storage.EventType) {
	o, ok := t.eventOpts[typ]
	if !ok {
		o = []metric.AddOption{metric.WithAttributes(attribute.String(AttrEventType, string(typ)))}
	}
	t.events.Add(ctx, 1, o...)
}

// notice records what a notifier notice tells: its lag, and the
// notifier's liveness. A Reset while live marks the notifier down (the
// connection dropped, or notices were missed); the next Reset (the
// recovery Reset of the storage.Notifier contract) or any ordinary notice
// (proof that notices arrive) marks it live again.
func (t *telemetry) notice(r storage.Revocation, now time.Time) {
	ctx := context.Background()
	if !r.Reset && !r.CommittedAt.IsZero() {
		t.lag.Record(ctx, max(now.Sub(r.CommittedAt), 0).Seconds())
	}
	if r.Reset {
		t.resets.Add(ctx, 1)
	}
	n := &t.notifier
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case r.Reset && n.live:
		n.live, n.downSince = false, now
		n.resets++
	case r.Reset:
		n.live, n.downSince = true, time.Time{}
		n.resets++
	case !n.live:
		n.live, n.downSince = true, time.Time{}
	}
}

func (t *telemetry) subscribed(ok bool) {
	t.notifier.mu.Lock()
	t.notifier.supported, t.notifier.live = ok, ok
	t.notifier.mu.Unlock()
}

func (t *telemetry) notifierHealth() NotifierHealth {
	n := &t.notifier
	n.mu.Lock()
	defer n.mu.Unlock()
	return NotifierHealth{Supported: n.supported, Live: n.live, DownSince: n.downSince, Resets: n.resets}
}

// unwrapStore returns the store that an otelstore.Store wraps, so that
// optional interfaces of the backend (storage.BoundedNotifier) are found.
func unwrapStore(s storage.Store) storage.Store {
	if w, ok := s.(*otelstore.Store); ok {
		return w.Unwrap()
	}
	return s
}

// instrumentStore wraps cfg.Store with otelstore unless it already is.
func instrumentStore(cfg *Config) error {
	if _, ok := cfg.Store.(*otelstore.Store); ok {
		return nil
	}
	s, err := otelstore.New(cfg.Store, otelstore.Options{MeterProvider: cfg.MeterProvider, TracerProvider: cfg.TracerProvider})
	if err != nil {
		return fmt.Errorf("session: %w", err)
	}
	cfg.Store = s
	return nil
}

// traced wraps the library's JSON routes in a span named after the
// matched route ("sessionguard DELETE /sessions/{id}") with http.route and
// http.response.status_code; a 5xx marks it an error. Nothing else from
// the request is recorded.
func (t *telemetry) traced(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, pattern := mux.Handler(r)
		if pattern == "" {
			mux.ServeHTTP(w, r)
			return
		}
		ctx, span := t.tracer.Start(r.Context(), "sessionguard "+pattern,
			trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(attribute.String("http.route", pattern)))
		defer span.End()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		mux.ServeHTTP(sw, r.WithContext(ctx))
		span.SetAttributes(attribute.Int("http.response.status_code", sw.code))
		if sw.code >= 500 {
			span.SetStatus(codes.Error, "")
		}
	})
}

// statusWriter records the status code of a response.
type statusWriter struct {
	http.ResponseWriter
	code    int
	written bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.written {
		w.code, w.written = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.written = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
