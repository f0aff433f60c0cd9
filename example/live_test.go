package main

import (
	"bufio"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// TestLiveSessionsEndsAcrossInstances: two instances of the app share one
// SQLite store; the live sessions stream a laptop holds open on the first
// closes with an "ended" event as soon as a phone on the second logs that
// session out.
func TestLiveSessionsEndsAcrossInstances(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var srvs [2]*httptest.Server
	for i := range srvs {
		a, err := newApp(appConfig{DataDir: dir, Logger: quietLogger(), BcryptCost: bcrypt.MinCost})
		if err != nil {
			t.Fatal(err)
		}
		srvs[i] = httptest.NewServer(a.Handler())
		t.Cleanup(func() { srvs[i].Close(); a.Close() })
	}
	laptop, phone := newClient(t, srvs[0], chromeMac), newClient(t, srvs[1], iphone)
	laptop.login(demoUser, demoPassword)

	resp, err := laptop.c.Do(laptop.request("GET", "/sessions/live", nil))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("live stream: got %d %q, want 200 text/event-stream", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	events := make(chan [2]string, 16)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(resp.Body)
		var name string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				events <- [2]string{name, strings.TrimPrefix(line, "data: ")}
			}
		}
	}()
	next := func() [2]string {
		t.Helper()
		select {
		case e, ok := <-events:
			if !ok {
				t.Fatal("the stream closed early")
			}
			return e
		case <-time.After(10 * time.Second):
			t.Fatal("no event within 10 s")
		}
		return [2]string{}
	}
	first := next()
	var ids []string
	if first[0] != "sessions" || json.Unmarshal([]byte(first[1]), &ids) != nil || len(ids) != 1 {
		t.Fatalf("first event: got %q, want the one session", first)
	}

	phone.login(demoUser, demoPassword)
	start := time.Now()
	status, path, _ := phone.do("POST", "/sessions/"+ids[0]+"/logout", url.Values{})
	if status != 200 || !strings.HasPrefix(path, "/sessions") {
		t.Fatalf("logging the laptop out from the phone: got %d %s", status, path)
	}
	for {
		e := next()
		if e[0] == "ended" {
			break
		}
	}
	if _, ok := <-events; ok {
		t.Fatal("the stream stayed open after its session ended")
	}
	t.Logf("the laptop's stream on the other instance ended %v after the phone's logout", time.Since(start))
}

// TestNewDeviceAlertEndpoint: a sign-in from a new device is reported to
// the account's other sessions, not to itself, and the security log page
// describes it in words.
func TestNewDeviceAlertEndpoint(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t)
	laptop, phone := newClient(t, srv, chromeMac), newClient(t, srv, iphone)
	laptop.login(demoUser, demoPassword)
	alert := func(c *client) *newDeviceAlert {
		t.Helper()
		status, _, body := c.do("GET", "/alerts/new-device", nil)
		var out struct {
			Alert *newDeviceAlert `json:"alert"`
		}
		if status != 200 || json.Unmarshal([]byte(body), &out) != nil {
			t.Fatalf("GET /alerts/new-device: got %d %s", status, body)
		}
		return out.Alert
	}
	if a := alert(laptop); a != nil {
		t.Fatalf("before any other sign-in: got alert %+v, want none", a)
	}
	phone.login(demoUser, demoPassword)
	a := alert(laptop)
	if a == nil || a.Device != "Safari 17 on iPhone" {
		t.Fatalf("after the phone signed in: got %+v, want an alert naming Safari 17 on iPhone", a)
	}
	if a := alert(phone); a != nil {
		t.Fatalf("the new device itself: got alert %+v, want none", a)
	}
	if _, _, body := laptop.do("GET", "/security-log", nil); !strings.Contains(body, "Signed in from a new device or place") {
		t.Fatal("the security log does not describe the new-device sign-in")
	}
}
