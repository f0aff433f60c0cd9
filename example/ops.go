package main

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/otlptranslator"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/sessionguard/sessionguard/internal/httpjson"
	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/otelstore"
)

// telemetry is the example's OpenTelemetry metrics pipeline: an SDK
// MeterProvider whose reader is the Prometheus exporter, on a registry of
// its own (no global state), served at /metrics. The library depends on the
// OpenTelemetry API only; the SDK and the exporter are the application's
// choice.
type telemetry struct {
	provider *sdkmetric.MeterProvider
	metrics  http.Handler
}

func newTelemetry() (*telemetry, error) {
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg),
		otelprom.WithTranslationStrategy(otlptranslator.UnderscoreEscapingWithSuffixes))
	if err != nil {
		return nil, err
	}
	return &telemetry{
		provider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp)),
		metrics:  promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
	}, nil
}

// instrument wraps store so that every package using it (the Manager and
// totp) has its calls measured; session.New does not wrap it twice.
func (t *telemetry) instrument(store storage.Store) (storage.Store, error) {
	return otelstore.New(store, otelstore.Options{MeterProvider: t.provider})
}

// Close flushes and stops the meter provider.
func (t *telemetry) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return t.provider.Shutdown(ctx)
}

// healthz is the readiness probe: 200 when the session store answers, 503
// when it does not, with the notifier's state either way. A notifier that
// is down does not fail the probe (revocations from other instances then
// take up to RevocationTTL); alert on sessionguard_notifier_live instead.
func (a *app) healthz(w http.ResponseWriter, r *http.Request) {
	h := a.m.Health(r.Context())
	status := http.StatusOK
	if !h.Ready() {
		status = http.StatusServiceUnavailable
		a.cfg.Logger.Warn("example: health check: the session store does not answer", "err", h.Store.Err)
	}
	w.Header().Set("Cache-Control", "no-store")
	httpjson.Write(w, status, h)
}
