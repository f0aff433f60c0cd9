package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/sessionguard/sessionguard/session"
	"github.com/sessionguard/sessionguard/storage"
)

// The -demo flag fills the demo account with made-up devices, places and
// events, so that every screen shows what it is for on the first run
// (README screenshots come from the same data, see browser_test.go). It is
// labelled as demo data on every page.

// demoLocator places a few documentation addresses (RFC 5737, never
// routed on the Internet) in cities. It stands in for a GeoIP database in
// demo mode and in the tests; any other address has no known place.
type demoLocator map[netip.Addr]storage.Location

func (l demoLocator) Locate(_ context.Context, ip netip.Addr) (storage.Location, error) {
	return l[ip], nil
}

var demoLocations = demoLocator{
	netip.MustParseAddr("203.0.113.7"):   {City: "Lisbon", Country: "Portugal", CountryCode: "PT"},
	netip.MustParseAddr("203.0.113.50"):  {City: "Porto", Country: "Portugal", CountryCode: "PT"},
	netip.MustParseAddr("198.51.100.23"): {City: "Toronto", Country: "Canada", CountryCode: "CA"},
	netip.MustParseAddr("192.0.2.44"):    {City: "São Paulo", Country: "Brazil", CountryCode: "BR"},
	netip.MustParseAddr("192.0.2.90"):    {City: "Berlin", Country: "Germany", CountryCode: "DE"},
}

// User agents of the demo devices.
const (
	uaFirefoxWindows = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
	uaSafariIPhone   = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
	uaChromeAndroid  = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36"
	uaChromeLinux    = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36"
)

// demoConfig turns cfg into the configuration of -demo: in memory, on a
// clock that seedDemo moves from a month ago to now, with the fake locator.
func demoConfig(cfg appConfig) appConfig {
	clock := newDemoClock()
	cfg.StoreKind, cfg.Demo, cfg.Clock, cfg.Locator = storeMemory, true, clock.Now, demoLocations
	cfg.seed = func(a *app) error { return seedDemo(a, clock.Advance) }
	return cfg
}

// demoSpan is how far back the demo's story starts: the app's clock reads
// that much before "now" when seedDemo begins, and seedDemo moves it
// forward to "now".
const demoSpan = 30 * 24 * time.Hour

// demoClock is the clock of an app started with -demo: the real time,
// shifted back while seedDemo plays the story.
type demoClock struct{ offset atomic.Int64 }

func newDemoClock() *demoClock {
	c := &demoClock{}
	c.offset.Store(int64(-demoSpan))
	return c
}

func (c *demoClock) Now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

func (c *demoClock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// seedDemo plays the demo account's last 30 days: created (by newApp),
// it logged in from a few devices, connected an app, and logged out an
// old laptop.
// The app's clock must read demoSpan before now; advance moves it forward,
// and seedDemo leaves it at now.
func seedDemo(a *app, advance func(time.Duration)) error {
	u, err := a.users.authenticate(demoUser, demoPassword)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	elapsed := time.Duration(0)
	// at moves the clock to ago before now.
	at := func(ago time.Duration) {
		if d := demoSpan - ago - elapsed; d > 0 {
			advance(d)
			elapsed += d
		}
	}
	request := func(method, path, ua, ip string) *http.Request {
		r := httptest.NewRequest(method, "http://localhost"+path, nil)
		r.Header.Set("User-Agent", ua)
		r.RemoteAddr = ip + ":50000"
		return r
	}
	type device struct {
		ua, ip string
		cookie *http.Cookie
		handle string
	}
	login := func(d *device) error {
		w := httptest.NewRecorder()
		r := request("POST", "/login", d.ua, d.ip)
		s, err := a.m.Login(w, r, u.ID, storage.AuthPassword)
		if err != nil {
			return err
		}
		for _, c := range w.Result().Cookies() {
			if c.Name == session.DefaultInsecureCookieName {
				d.cookie = c
			}
		}
		d.handle = s.Handle
		return nil
	}
	use := func(d *device) error {
		r := request("GET", "/", d.ua, d.ip)
		r.AddCookie(d.cookie)
		_, err := a.m.Check(r)
		return err
	}
	ctx := context.Background()
	firefox := &device{ua: uaFirefoxWindows, ip: "198.51.100.23"}
	iphone := &device{ua: uaSafariIPhone, ip: "203.0.113.50"}
	android := &device{ua: uaChromeAndroid, ip: "192.0.2.44"}
	oldLaptop := &device{ua: uaChromeLinux, ip: "192.0.2.90"}

	// newApp created the account (and logged it) when the clock read
	// demoSpan ago.
	at(demoSpan - time.Minute)
	if err := login(oldLaptop); err != nil {
		return err
	}
	at(6 * 24 * time.Hour)
	if err := login(android); err != nil {
		return err
	}
	at(5 * 24 * time.Hour)
	if err := login(firefox); err != nil {
		return err
	}
	token, _, err := a.m.Apps().Grant(ctx, session.Audit{Request: request("POST", "/apps/demo", firefox.ua, firefox.ip)}, u.ID, demoAppName, []string{scopeProfile})
	if err != nil {
		return err
	}
	at(5*24*time.Hour - 10*time.Minute)
	if err := a.m.Revoke(ctx, session.Audit{Request: request("POST", "/sessions/x/logout", firefox.ua, firefox.ip)}, u.ID, oldLaptop.handle); err != nil {
		return err
	}
	at(2 * 24 * time.Hour)
	if err := login(iphone); err != nil {
		return err
	}
	at(3 * time.Hour)
	if err := use(firefox); err != nil {
		return err
	}
	at(2 * time.Hour)
	api := request("GET", "/api/me", "Sample Calendar/2.1", "203.0.113.80")
	api.Header.Set("Authorization", "Bearer "+token)
	if _, err := a.m.Apps().Check(api); err != nil {
		return err
	}
	at(25 * time.Minute)
	if err := use(iphone); err != nil {
		return err
	}
	at(0)
	return nil
}
