package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// value returns the value of the sample of family name whose labels include
// want, and whether there is one. Histograms give their sample count.
func value(families map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f, ok := families[name]
	if !ok {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

func TestHealthzAndMetrics(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t)
	c := newClient(t, srv, chromeMac)
	c.login(demoUser, demoPassword)
	c.page("/sessions", "/sessions", "This device") // a cache hit
	other := newClient(t, srv, iphone)
	other.login(demoUser, demoPassword)
	if status, _, _ := c.do("POST", "/sessions/logout-others", nil); status >= 500 {
		t.Fatalf("log out others: %d", status)
	}

	resp, err := http.Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	var h struct {
		Store    struct{ OK bool }
		Notifier struct{ Supported, Live bool }
	}
	err = json.NewDecoder(resp.Body).Decode(&h)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || !h.Store.OK || !h.Notifier.Supported || !h.Notifier.Live {
		t.Fatalf("GET /healthz: got %d %+v (%v), want 200 with the store and a live notifier", resp.StatusCode, h, err)
	}

	resp, err = http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("GET /metrics Content-Type: got %q, want the Prometheus text format", ct)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing the exposition: %v", err)
	}
	if testing.Verbose() {
		for name := range families {
			if strings.HasPrefix(name, "sessionguard_") {
				t.Logf("%s: %s", name, families[name].GetType())
			}
		}
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		min    float64
	}{
		{"sessionguard_sessions_started_total", map[string]string{"sessionguard_auth_level": "password"}, 2},
		{"sessionguard_sessions_ended_total", map[string]string{"sessionguard_session_end_reason": "revoked_others"}, 1},
		{"sessionguard_cache_lookups_total", map[string]string{"sessionguard_cache_result": "hit"}, 1},
		{"sessionguard_cache_lookups_total", map[string]string{"sessionguard_cache_result": "miss"}, 1},
		{"sessionguard_security_events_total", map[string]string{"sessionguard_event_type": "signed_in"}, 2},
		{"sessionguard_store_operation_duration_seconds", map[string]string{"sessionguard_store_backend": "sqlite", "sessionguard_store_operation": "CreateSession"}, 2},
		{"sessionguard_notifier_lag_seconds", nil, 1},
		{"sessionguard_notifier_live", nil, 1},
	} {
		got, ok := value(families, c.name, c.labels)
		if !ok || got < c.min {
			t.Errorf("%s%v: got %v (present %v), want at least %v", c.name, c.labels, got, ok, c.min)
		}
	}
}
