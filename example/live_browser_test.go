package main

import (
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/crypto/bcrypt"
)

// TestBrowserLiveSessions: in headless Chromium, the sessions page open on
// one instance clears itself ("This session was ended") the moment its
// session is logged out from a phone on another instance sharing the SQLite
// store, and the next navigation lands on the sign-in page;
// before that, the phone's sign-in shows the new-device notice, which can
// be dismissed for good in this browser.
func TestBrowserLiveSessions(t *testing.T) {
	chromium := chromiumPath(t)
	dir := t.TempDir()
	var srvs [2]*httptest.Server
	for i := range srvs {
		a, err := newApp(appConfig{DataDir: dir, Logger: quietLogger(), BcryptCost: bcrypt.MinCost,
			Locator: testLocations, TrustedProxies: loopback})
		if err != nil {
			t.Fatal(err)
		}
		srvs[i] = httptest.NewServer(a.Handler())
		t.Cleanup(func() { srvs[i].Close(); a.Close() })
	}
	laptop := newProfile(t, chromium, srvs[0].URL, "laptop", chromeMac, "203.0.113.7", 1000, 800)
	laptop.signIn(demoUser, demoPassword)
	laptop.expect("/", "Hello, demo")

	phone := newClient(t, srvs[1], iphone)
	phone.ip = "198.51.100.23"
	phone.login(demoUser, demoPassword)

	laptop.open("/sessions")
	notice := func() string {
		var text string
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			text = runIn(laptop, chromedp.Evaluate[string](`(document.querySelector(".new-device") || {}).textContent || ""`))
			if text != "" {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		return text
	}
	if text := notice(); !strings.Contains(text, "Safari 17 on iPhone") || !strings.Contains(text, "Toronto, Canada") {
		t.Fatalf("new-device notice: got %q, want the phone's device and place", text)
	}
	laptop.do(chromedp.Click(chromedp.CSS(".new-device button"), chromedp.NodeVisible))
	laptop.open("/sessions")
	time.Sleep(500 * time.Millisecond) // the notice would have been fetched by now
	if text := runIn(laptop, chromedp.Evaluate[string](`(document.querySelector(".new-device") || {}).textContent || ""`)); text != "" {
		t.Fatalf("after Dismiss: got notice %q, want none", text)
	}

	_, _, body := phone.do("GET", "/sessions", nil)
	all, current := handlesOf(body)
	var laptopID string
	for _, id := range all {
		if id != current {
			laptopID = id
		}
	}
	if laptopID == "" {
		t.Fatalf("the phone's sessions page lists %v (current %s), want the laptop too", all, current)
	}
	start := time.Now()
	if status, _, _ := phone.do("POST", "/sessions/"+laptopID+"/logout", url.Values{}); status != 200 {
		t.Fatalf("logging the laptop out from the phone: got %d", status)
	}
	for {
		text := runIn(laptop, chromedp.Evaluate[string](`(document.querySelector(".session-ended") || {}).textContent || ""`))
		if strings.Contains(text, "This session was ended from another device") {
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("the laptop's sessions page still shows the sessions 10 s after its session ended on the other instance")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("the laptop's page cleared itself %v after the logout on the other instance", time.Since(start).Round(time.Millisecond))
	if n := runIn(laptop, chromedp.Evaluate[int](`document.querySelectorAll("li.session").length`)); n != 0 {
		t.Fatalf("the ended session's page still lists %d sessions", n)
	}
	laptop.expectSignedOut()
}
