package session

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/sessionguard/sessionguard/storage"
)

const (
	uaChromeMac    = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	uaChromeMacNew = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/132.0.0.0 Safari/537.36"
	uaFirefoxWin   = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
)

// mapLocator places addresses by a fixed table.
type mapLocator map[netip.Addr]storage.Location

func (l mapLocator) Locate(_ context.Context, ip netip.Addr) (storage.Location, error) {
	return l[ip], nil
}

var (
	ipLisbon = netip.MustParseAddr("203.0.113.5")
	ipPorto  = netip.MustParseAddr("203.0.113.6")
	ipLagos  = netip.MustParseAddr("198.51.100.7")
	places   = mapLocator{
		ipLisbon: {City: "Lisbon", Country: "Portugal", CountryCode: "PT"},
		ipPorto:  {City: "Porto", Country: "Portugal", CountryCode: "PT"},
		ipLagos:  {City: "Lagos", Country: "Nigeria", CountryCode: "NG"},
	}
)

// signIn is one sign-in step of a scenario: a browser (User-Agent) from an
// address, after some time.
type signIn struct {
	after time.Duration
	ua    string
	ip    netip.Addr
}

func signInRequest(ua string, ip netip.Addr) *http.Request {
	r := httptest.NewRequest("POST", "https://example.com/login", nil)
	r.Header.Set("User-Agent", ua)
	r.RemoteAddr = netip.AddrPortFrom(ip, 40000).String()
	return r
}

// alertRecorder collects the events OnEvent delivers.
type alertRecorder struct {
	mu     sync.Mutex
	events []storage.Event
}

func (a *alertRecorder) onEvent(_ context.Context, e storage.Event) {
	a.mu.Lock()
	a.events = append(a.events, e)
	a.mu.Unlock()
}

func (a *alertRecorder) alerts() []storage.Event {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []storage.Event
	for _, e := range a.events {
		if e.Type == storage.EventNewDeviceSignIn {
			out = append(out, e)
		}
	}
	return out
}

func TestNewDeviceAlerts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		history []signIn
		next    signIn
		want    bool
	}{
		{"the account's first sign-in is not alerted", nil, signIn{0, uaChromeMac, ipLisbon}, false},
		{"the same browser in the same country is not alerted",
			[]signIn{{0, uaChromeMac, ipLisbon}}, signIn{time.Hour, uaChromeMac, ipPorto}, false},
		{"a browser update is not a new device",
			[]signIn{{0, uaChromeMac, ipLisbon}}, signIn{time.Hour, uaChromeMacNew, ipLisbon}, false},
		{"another browser and OS is alerted",
			[]signIn{{0, uaChromeMac, ipLisbon}}, signIn{time.Hour, uaFirefoxWin, ipLisbon}, true},
		{"the same browser from another country is alerted",
			[]signIn{{0, uaChromeMac, ipLisbon}}, signIn{time.Hour, uaChromeMac, ipLagos}, true},
		{"a device last used beyond the window is alerted again",
			[]signIn{{0, uaFirefoxWin, ipLisbon}, {80 * 24 * time.Hour, uaChromeMac, ipLisbon}},
			signIn{20 * 24 * time.Hour, uaFirefoxWin, ipLisbon}, true},
		{"a device used within the window among many others is not alerted",
			[]signIn{{0, uaFirefoxWin, ipLagos}, {time.Hour, uaChromeMac, ipLisbon}, {time.Hour, uaChromeMac, ipLisbon}},
			signIn{time.Hour, uaFirefoxWin, ipLagos}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			rec := new(alertRecorder)
			m := newTestManager(t, newMemoryStore(t), clock, func(c *Config) { c.Locator = places; c.OnEvent = rec.onEvent })
			for _, s := range tt.history {
				clock.Advance(s.after)
				if _, err := m.Login(httptest.NewRecorder(), signInRequest(s.ua, s.ip), "alice", storage.AuthPassword); err != nil {
					t.Fatal(err)
				}
			}
			before := len(rec.alerts())
			clock.Advance(tt.next.after)
			if _, err := m.Login(httptest.NewRecorder(), signInRequest(tt.next.ua, tt.next.ip), "alice", storage.AuthPassword); err != nil {
				t.Fatal(err)
			}
			if got := len(rec.alerts()) > before; got != tt.want {
				t.Fatalf("got alert %v, want %v (events %+v)", got, tt.want, rec.events)
			}
		})
	}
}

// TestNewDeviceAlertCarriesWhatAPersonNeeds: browser, OS, location, time
// and the new session, through OnEvent and in the security log.
func TestNewDeviceAlertCarriesWhatAPersonNeeds(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	rec := new(alertRecorder)
	m := newTestManager(t, newMemoryStore(t), clock, func(c *Config) { c.Locator = places; c.OnEvent = rec.onEvent })
	ctx := context.Background()
	if _, err := m.Login(httptest.NewRecorder(), signInRequest(uaChromeMac, ipLisbon), "alice", storage.AuthPassword); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	s, err := m.Login(httptest.NewRecorder(), signInRequest(uaFirefoxWin, ipLagos), "alice", storage.AuthPassword)
	if err != nil {
		t.Fatal(err)
	}
	alerts := rec.alerts()
	if len(alerts) != 1 {
		t.Fatalf("got %d alerts, want 1", len(alerts))
	}
	e := alerts[0]
	want := storage.Event{ID: e.ID, UserID: "alice", Type: storage.EventNewDeviceSignIn, At: clock.Now(), SessionHandle: s.Handle,
		IP: ipLagos.String(), Device: "Firefox 133 on Windows", Location: "Lagos, Nigeria"}
	if !e.At.Equal(want.At) {
		t.Errorf("got time %v, want %v", e.At, want.At)
	}
	e.At = want.At
	if e != want {
		t.Errorf("got alert %+v, want %+v", e, want)
	}
	logged, _, err := m.SecurityLog().List(ctx, "alice", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(logged) == 0 || logged[0].Type != storage.EventNewDeviceSignIn {
		t.Fatalf("got newest logged event %+v, want the new-device sign-in", logged)
	}
}

// TestNewDeviceAlertWaitsForSecondFactor: an attacker who has the password
// but not the second factor neither triggers the alert nor makes their
// device familiar; the alert comes when the second factor completes.
func TestNewDeviceAlertWaitsForSecondFactor(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	rec := new(alertRecorder)
	m := newTestManager(t, newMemoryStore(t), clock, func(c *Config) { c.Locator = places; c.OnEvent = rec.onEvent })
	if _, err := m.Login(httptest.NewRecorder(), signInRequest(uaChromeMac, ipLisbon), "alice", storage.AuthSecondFactor); err != nil {
		t.Fatal(err)
	}
	for range 2 { // two sign-ins from Lagos, each through the second factor
		before := len(rec.alerts())
		w := httptest.NewRecorder()
		if _, err := m.Login(w, signInRequest(uaFirefoxWin, ipLagos), "alice", storage.AuthPendingSecondFactor); err != nil {
			t.Fatal(err)
		}
		if n := len(rec.alerts()) - before; n != 0 {
			t.Fatalf("got %d alerts after a sign-in pending its second factor, want 0", n)
		}
		clock.Advance(time.Minute)
		// The pending session completes: now it is a sign-in.
		r := signInRequest(uaFirefoxWin, ipLagos)
		r.Header.Set("Cookie", w.Result().Cookies()[0].String())
		if _, err := m.Elevate(httptest.NewRecorder(), r, storage.AuthSecondFactor); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(rec.alerts()); n != 1 {
		t.Fatalf("got %d alerts after two completed sign-ins from a new device, want 1 (the first)", n)
	}
}

func TestNewDeviceAlertsOff(t *testing.T) {
	t.Parallel()
	rec := new(alertRecorder)
	m := newTestManager(t, newMemoryStore(t), newFakeClock(), func(c *Config) {
		c.Locator = places
		c.OnEvent = rec.onEvent
		c.NewDeviceWindow = -1
	})
	for _, s := range []signIn{{0, uaChromeMac, ipLisbon}, {0, uaFirefoxWin, ipLagos}} {
		if _, err := m.Login(httptest.NewRecorder(), signInRequest(s.ua, s.ip), "alice", storage.AuthPassword); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(rec.alerts()); n != 0 {
		t.Fatalf("got %d alerts with NewDeviceWindow < 0, want 0", n)
	}
}

func TestDeviceKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		a, b     [2]string
		wantSame bool
	}{
		{"versions do not count", [2]string{"Chrome 131 on macOS", "Lisbon, Portugal"}, [2]string{"Chrome 132 on macOS", "Portugal"}, true},
		{"the OS counts", [2]string{"Chrome 131 on macOS", "Portugal"}, [2]string{"Chrome 131 on Windows", "Portugal"}, false},
		{"the country counts", [2]string{"Chrome on macOS", "Portugal"}, [2]string{"Chrome on macOS", "Lagos, Nigeria"}, false},
		{"unknown places match each other", [2]string{"Safari on iPhone", ""}, [2]string{"Safari 18 on iPhone", ""}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := deviceKey(tt.a[0], tt.a[1]) == deviceKey(tt.b[0], tt.b[1])
			if got != tt.wantSame {
				t.Errorf("got same %v, want %v (%q vs %q)", got, tt.wantSame, deviceKey(tt.a[0], tt.a[1]), deviceKey(tt.b[0], tt.b[1]))
			}
		})
	}
}
