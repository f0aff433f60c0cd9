package session

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestHandlerRefusesCrossSiteUnsafeRequests: every unsafe-method request
// through Handler passes cross-origin protection first, sign-in included
// (login CSRF: a cross-site form must not sign the visitor into the
// attacker's account), unless Config.CrossOriginBypass exempts it; the
// library's own routes never bypass (SECURITY.md §12).
func TestHandlerRefusesCrossSiteUnsafeRequests(t *testing.T) {
	t.Parallel()
	crossSite := map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}
	oldBrowser := map[string]string{"Origin": "https://evil.example"}
	sameOrigin := map[string]string{"Sec-Fetch-Site": "same-origin"}
	trusted := map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://app.example.com"}
	tests := []struct {
		name       string
		bypass     []string
		method     string
		path       string
		headers    map[string]string
		wantStatus int
	}{
		{"a cross-site sign-in is refused", nil, "POST", "/login", crossSite, 403},
		{"an older browser's cross-origin sign-in is refused", nil, "POST", "/login", oldBrowser, 403},
		{"a same-origin sign-in passes", nil, "POST", "/login", sameOrigin, 200},
		{"a sign-in without browser headers (a server, a native app) passes", nil, "POST", "/login", nil, 200},
		{"a sign-in from a trusted origin passes", nil, "POST", "/login", trusted, 200},
		{"a cross-site PUT to any app route is refused", nil, "PUT", "/public", crossSite, 403},
		{"a cross-site GET passes (safe method)", nil, "GET", "/public", crossSite, 200},
		{"a bypassed route takes a cross-site sign-in", []string{"POST /login"}, "POST", "/login", crossSite, 200},
		{"a bypass pattern does not widen to other routes", []string{"POST /elsewhere"}, "POST", "/login", crossSite, 403},
		{"bypassing everything still protects the library's logout", []string{"/"}, "POST", "/auth/logout", crossSite, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			store := newMemoryStore(t)
			m := newTestManager(t, store, newFakeClock(), func(c *Config) {
				c.CrossOriginBypass = tt.bypass
				c.TrustedOrigins = []string{"https://app.example.com"}
			})
			app := newTestApp(t, m)
			victim := app.browser(t)
			victim.login("alice")
			var body *strings.Reader
			if tt.path == "/login" {
				body = strings.NewReader(url.Values{"user": {"mallory"}}.Encode())
			} else {
				body = strings.NewReader("")
			}
			req, _ := http.NewRequest(tt.method, app.srv.URL+tt.path, body)
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			resp, err := victim.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("got %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			list, err := store.ListSessions(context.Background(), "mallory")
			if err != nil {
				t.Fatal(err)
			}
			signedIn := len(list) > 0
			if wantSignedIn := tt.path == "/login" && tt.wantStatus == 200; signedIn != wantSignedIn {
				t.Errorf("the attacker's account got a session: %v, want %v", signedIn, wantSignedIn)
			}
			if tt.wantStatus == 403 {
				if got := victim.whoami(); got != "alice" {
					t.Errorf("after a refused request the victim is %q, want alice", got)
				}
				for _, c := range resp.Cookies() {
					t.Errorf("a refused request set cookie %s", c.Name)
				}
			}
		})
	}
}

func TestCrossOriginBypassMustBeAPattern(t *testing.T) {
	t.Parallel()
	_, err := New(Config{Store: newMemoryStore(t), Keys: testKeys(t, 1), CrossOriginBypass: []string{"POST"}})
	if err == nil || !strings.Contains(err.Error(), "CrossOriginBypass") {
		t.Fatalf("New with an invalid bypass pattern: got %v, want a Config.CrossOriginBypass error", err)
	}
}
