package session

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/sessionguard/sessionguard/storage"
)

// eventTypes returns userID's event types, oldest first.
func eventTypes(t *testing.T, m *Manager, userID string) []storage.EventType {
	t.Helper()
	events, err := m.cfg.Store.ListEvents(context.Background(), userID, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []storage.EventType
	for i := len(events) - 1; i >= 0; i-- {
		out = append(out, events[i].Type)
	}
	return out
}

// TestEachOperationRecordsItsEvent: every operation writes exactly the
// expected security event, with no secret in it.
func TestEachOperationRecordsItsEvent(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	var hooked []storage.Event
	m := newTestManager(t, newMemoryStore(t), clock, func(c *Config) {
		c.OnEvent = func(_ context.Context, e storage.Event) { hooked = append(hooked, e) }
	})
	app := newTestApp(t, m)
	ctx := context.Background()
	steps := []struct {
		name string
		do   func()
		want storage.EventType
	}{
		{"sign-in", func() { app.browser(t).login("alice") }, storage.EventSignedIn},
		{"re-authentication", func() {
			b := app.browser(t)
			b.login("carol")
			b.do("POST", "/reauth", nil)
		}, storage.EventReauthenticated},
		{"logout", func() {
			b := app.browser(t)
			b.login("dave")
			b.do("POST", "/auth/logout", nil)
		}, storage.EventSignedOut},
		{"revoking one session", func() {
			_, s := loginDirect(t, m, "erin")
			m.Revoke(ctx, Audit{}, "erin", s.Handle)
		}, storage.EventSessionRevoked},
		{"revoking the others", func() {
			_, s := loginDirect(t, m, "frank")
			m.RevokeOthers(ctx, Audit{}, s)
		}, storage.EventOtherSessionsRevoked},
		{"revoking all (admin)", func() { m.RevokeAll(ctx, Audit{}, "grace") }, storage.EventAllSessionsRevokedAdm},
		{"a password change", func() { m.PasswordChanged(ctx, Audit{}, "heidi", nil) }, storage.EventPasswordChanged},
		{"authorising an app", func() { m.Apps().Grant(ctx, Audit{}, "ivan", "App", nil) }, storage.EventAppAuthorized},
		{"revoking an app", func() {
			_, g, _ := m.Apps().Grant(ctx, Audit{}, "judy", "App", nil)
			m.Apps().Revoke(ctx, Audit{}, "judy", g.ID)
		}, storage.EventAppRevoked},
	}
	users := []string{"alice", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"}
	for i, st := range steps {
		st.do()
		types := eventTypes(t, m, users[i])
		if types[len(types)-1] != st.want {
			t.Errorf("%s: last event %q, want %q (all: %v)", st.name, types[len(types)-1], st.want, types)
		}
		if n := len(slices.DeleteFunc(slices.Clone(types), func(e storage.EventType) bool { return e != st.want })); n != 1 {
			t.Errorf("%s: %d %q events, want exactly 1", st.name, n, st.want)
		}
	}
	if len(hooked) == 0 {
		t.Error("OnEvent was never called")
	}
	for _, e := range hooked {
		if e.UserID == "alice" && e.Type == storage.EventSignedIn {
			if e.Device != "Chrome 131 on macOS" || e.IP == "" || e.SessionHandle == "" {
				t.Errorf("sign-in event lacks request details: %+v", e)
			}
		}
	}
}

func TestEventsAPIPagination(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	app := newTestApp(t, newTestManager(t, newMemoryStore(t), clock, nil))
	b := app.browser(t)
	b.login("alice") // event 1
	for range 24 {
		clock.Advance(time.Second)
		app.m.RevokeAll(context.Background(), Audit{}, "alice-other")
		app.m.SecurityLog().Record(context.Background(), Audit{Request: cookieRequest(app.m, "")}, "alice", storage.EventPasswordChanged, "")
	}
	page := func(before int64) ([]EventInfo, int64) {
		t.Helper()
		q := url.Values{"limit": {"10"}}
		if before > 0 {
			q.Set("before", itoa64(before))
		}
		resp, body := b.do("GET", "/auth/events?"+q.Encode(), nil)
		if resp.StatusCode != 200 {
			t.Fatalf("GET /events: %d %s", resp.StatusCode, body)
		}
		var out struct {
			Events []EventInfo
			Next   int64
		}
		json.Unmarshal([]byte(body), &out)
		return out.Events, out.Next
	}
	first, next := page(0)
	// New events arrive between pages: they must not shift the next page.
	app.m.SecurityLog().Record(context.Background(), Audit{Request: cookieRequest(app.m, "")}, "alice", storage.EventPasswordChanged, "late")
	second, next2 := page(next)
	third, next3 := page(next2)
	all := append(append(first, second...), third...)
	if len(all) != 25 || next3 != 0 {
		t.Fatalf("got %d events over 3 pages (next %d), want 25 and no further page", len(all), next3)
	}
	for i := 1; i < len(all); i++ {
		if all[i].ID >= all[i-1].ID {
			t.Fatalf("events not strictly newest first at %d", i)
		}
	}
	if resp, _ := b.do("GET", "/auth/events?limit=abc", nil); resp.StatusCode != 400 {
		t.Errorf("bad limit: got %d, want 400", resp.StatusCode)
	}
}

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }

type fakeLocator map[netip.Addr]storage.Location

func (f fakeLocator) Locate(_ context.Context, ip netip.Addr) (storage.Location, error) {
	return f[ip], nil
}

func TestLocationInListAndLog(t *testing.T) {
	t.Parallel()
	lisbon := storage.Location{City: "Lisbon", Region: "Lisbon", Country: "Portugal", CountryCode: "PT"}
	m := newTestManager(t, newMemoryStore(t), newFakeClock(), func(c *Config) {
		c.Locator = fakeLocator{netip.MustParseAddr("198.51.100.1"): lisbon}
	})
	r := httptest.NewRequest("POST", "https://example.com/login", nil)
	r.RemoteAddr = "198.51.100.1:1234"
	r.Header.Set("User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36")
	s, err := m.Login(httptest.NewRecorder(), r, "alice", storage.AuthPassword)
	if err != nil {
		t.Fatal(err)
	}
	list, _ := m.ListSessions(context.Background(), "alice", s)
	if len(list) != 1 || list[0].Location != "Lisbon, Portugal" || list[0].DeviceLabel != "Chrome 131 on Windows" || !list[0].Current {
		t.Errorf("list: %+v", list)
	}
	events, _, _ := m.SecurityLog().List(context.Background(), "alice", 0, 0)
	if len(events) != 1 || events[0].Location != "Lisbon, Portugal" || events[0].Device != "Chrome 131 on Windows" {
		t.Errorf("events: %+v", events)
	}
}

func TestLocationLabel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   storage.Location
		want string
	}{
		{"city and country", storage.Location{City: "Lisbon", Country: "Portugal"}, "Lisbon, Portugal"},
		{"region when no city", storage.Location{Region: "Bavaria", Country: "Germany"}, "Bavaria, Germany"},
		{"country code when no name", storage.Location{CountryCode: "PT"}, "PT"},
		{"nothing known", storage.Location{}, ""},
	}
	for _, tt := range tests {
		if got := LocationLabel(tt.in); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestAuditFillsEventDetails: Go operations given an Audit with the
// request record its device and IP, and without one the user, type and
// time only; LogoutEverywhere records exactly one signed_out_everywhere
// event.
func TestAuditFillsEventDetails(t *testing.T) {
	t.Parallel()
	m := newTestManager(t, newMemoryStore(t), newFakeClock(), nil)
	w0 := httptest.NewRecorder()
	r0 := httptest.NewRequest("POST", "https://example.com/login", nil)
	r0.Header.Set("User-Agent", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1")
	s, err := m.Login(w0, r0, "alice", storage.AuthPassword)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("POST", "https://example.com/sessions/x/logout", nil)
	r.RemoteAddr = "198.51.100.7:4242"
	r.Header.Set("User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0")
	if err := m.Revoke(r.Context(), Audit{Request: r}, "alice", s.Handle); err != nil {
		t.Fatal(err)
	}
	events, _, _ := m.SecurityLog().List(context.Background(), "alice", 0, 1)
	if e := events[0]; e.Type != storage.EventSessionRevoked || e.IP != "198.51.100.7" || e.Device != "Firefox 133 on Windows" || e.Detail != "Safari 17 on iPhone" {
		t.Errorf("event with the request: got %+v, want session_revoked by Firefox 133 on Windows from 198.51.100.7, detail Safari 17 on iPhone", e)
	}
	if _, err := m.RevokeAll(context.Background(), Audit{}, "alice"); err != nil {
		t.Fatal(err)
	}
	events, _, _ = m.SecurityLog().List(context.Background(), "alice", 0, 1)
	if e := events[0]; e.Type != storage.EventAllSessionsRevokedAdm || e.IP != "" || e.Device != "" || e.SessionID != "" {
		t.Errorf("event without a request: got %+v, want no IP, device or session", e)
	}

	cookie, _ := loginDirect(t, m, "alice")
	loginDirect(t, m, "alice")
	w := httptest.NewRecorder()
	n, apps, err := m.LogoutEverywhere(w, cookieRequest(m, cookie), LogoutEverywhereOptions{})
	if err != nil || n != 2 || apps != 0 {
		t.Fatalf("LogoutEverywhere = %d, %d, %v; want 2, 0, nil", n, apps, err)
	}
	if w.Header().Get("Clear-Site-Data") == "" {
		t.Error("LogoutEverywhere did not clear the client")
	}
	types := eventTypes(t, m, "alice")
	if got := types[len(types)-1]; got != storage.EventSignedOutEverywhere {
		t.Errorf("last event %q, want %q", got, storage.EventSignedOutEverywhere)
	}
}

func TestListShowsPendingSignIns(t *testing.T) {
	t.Parallel()
	m := newTestManager(t, newMemoryStore(t), newFakeClock(), nil)
	if _, err := m.Login(httptest.NewRecorder(), httptest.NewRequest("POST", "/", nil), "alice", storage.AuthPendingSecondFactor); err != nil {
		t.Fatal(err)
	}
	list, err := m.ListSessions(context.Background(), "alice", nil)
	if err != nil || len(list) != 1 || !list[0].Pending || list[0].SecondFactor {
		t.Errorf("list = %+v, %v; want one pending sign-in", list, err)
	}
}
