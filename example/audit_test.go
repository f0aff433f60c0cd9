package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/sessionguard/sessionguard/internal/fakeclock"
	"github.com/sessionguard/sessionguard/storage"
	"golang.org/x/crypto/bcrypt"
)

// TestBrowserPages opens every page of the example, and every state of it
// (errors, confirmations, secrets shown once), in headless Chromium on the
// demo data (-demo), and checks each at 320, 360, 390 and 1280 px wide:
//
//   - nothing overflows horizontally: the page does not scroll sideways
//     and no element's content runs past its box (WCAG 1.4.10 Reflow);
//   - axe-core finds no violation of WCAG 2.0, 2.1 and 2.2 (A and AA) or
//     of its best practices, at 320 and at 1280 px.
//
// It also checks where the focus lands, that times are shown relative to
// now with the full date on hover, and that the recovery codes can be
// downloaded. The README's screenshots are taken here (see screenshotDir);
// SESSION_AUDIT_SCREENSHOTS names a directory for a screenshot of every
// state on a phone, to look at.
//
// It needs Chromium (SESSION_TEST_CHROMIUM, see chromiumPath) and axe-core:
// SESSION_TEST_AXE names axe.min.js from the npm package axe-core (.ci/run
// installs it). Without either it is skipped, except when CI=true.
func TestBrowserPages(t *testing.T) {
	chromium := chromiumPath(t)
	axe := axeSource(t)
	shots := screenshotDir(t)
	srv, demoApp, clock := newDemoServer(t)

	laptop := newProfile(t, chromium, srv.URL, "laptop", chromeMac, "203.0.113.7", 1280, 800)
	// Let the page use the clipboard (the copy button), as a person
	// clicking it would.
	for _, name := range []string{"clipboard-read", "clipboard-write"} {
		if _, err := chromedp.CallBrowser(laptop.ctx, browser.SetPermission, browser.SetPermissionParams{
			Permission: &browser.PermissionDescriptor{Name: name}, Setting: browser.PermissionSettingGranted, Origin: srv.URL,
		}); err != nil {
			t.Fatal(err)
		}
	}
	au := &auditor{t: t, p: laptop, axe: axe}

	// Logged out.
	laptop.open("/login")
	au.check("login page", "username")
	laptop.fill("#username", demoUser)
	laptop.fill("#password", "not the password")
	laptop.submit(`form[action="/login"] button`)
	laptop.expect("/login", "Wrong username or password.")
	au.check("login error", "password")
	if got := runIn(laptop, chromedp.Evaluate[string](`(() => { const f = document.getElementById("password"); return f.getAttribute("aria-invalid") + " " + document.getElementById(f.getAttribute("aria-describedby")).textContent; })()`)); got != "true Wrong username or password." {
		t.Errorf("the password field after a wrong password: got %q, want it invalid and described by the error", got)
	}
	laptop.open("/signup")
	au.check("signup page", "username")
	laptop.fill("#username", "x")
	laptop.fill("#password", "short")
	// The browser would check these itself; the server's answer is audited.
	runIn(laptop, chromedp.Evaluate[bool](`document.querySelector('form[action="/signup"]').noValidate = true`))
	laptop.submit(`form[action="/signup"] button`)
	au.check("signup error", "username")
	laptop.open("/no-such-page")
	au.check("404, logged out", "")
	laptop.open("/login?m=signed-out")
	au.check("login after being logged out elsewhere", "page-error")

	// Logged in, on the demo data.
	laptop.signIn(demoUser, demoPassword)
	laptop.expect("/", "Hello, demo", "Logged in on 4 devices.")
	au.check("home", "")
	rows := laptop.sessions()
	if len(rows) != 4 || !rows[0].Current {
		t.Fatalf("the demo sessions: got %+v, want this device and 3 others", rows)
	}
	au.check("sessions", "")
	laptop.screenshot(shots, "sessions.png")
	au.at(390, func() { laptop.screenshot(shots, "sessions-phone.png") })

	var iphone sessionRow
	for _, r := range rows {
		if strings.Contains(r.Device, "iPhone") {
			iphone = r
		}
	}
	laptop.open("/sessions/" + iphone.ID)
	laptop.expect("/sessions/"+iphone.ID, "Porto, Portugal", "203.0.113.50", "Log out the device shown")
	au.check("session page", "")
	au.at(390, func() { laptop.screenshot(shots, "session-phone.png") })
	laptop.do(chromedp.Click(chromedp.CSS(`form[data-post] button`), chromedp.NodeVisible), chromedp.WaitVisible(chromedp.CSS("dialog.confirm-dialog[open]")))
	if got := runIn(laptop, chromedp.Text(chromedp.CSS("dialog.confirm-dialog"))); !strings.Contains(got, "Log out Safari 17 on iPhone?") || !strings.Contains(got, "It will be logged out at once") {
		t.Errorf("the dialog says %q, want the question and the consequence", got)
	}
	au.check("session log-out dialog", "confirm-dialog-cancel")
	laptop.do(chromedp.Click(chromedp.CSS("#confirm-dialog-cancel"), chromedp.NodeVisible))
	// Cancel closes the dialog (the close event removes it) and gives the
	// focus back to the button that opened it.
	runIn(laptop, chromedp.Poll[bool](`document.querySelectorAll("dialog").length === 0`))
	if got := runIn(laptop, chromedp.Evaluate[string](`document.activeElement.textContent`)); got != "Log out" {
		t.Errorf("after Cancel the focus is on %q, want the Log out button", got)
	}
	laptop.expect("/sessions/"+iphone.ID, "Safari 17 on iPhone")
	laptop.open("/sessions/" + iphone.ID + "?confirm=logout")
	au.check("session log-out confirmation", "")
	laptop.open("/sessions/" + rows[0].ID)
	au.check("this device's session page", "")
	laptop.open("/sessions")
	laptop.do(chromedp.Click(chromedp.CSS(`form[action="/sessions/confirm/everywhere"] button`), chromedp.NodeVisible), chromedp.WaitVisible(chromedp.CSS("dialog.confirm-dialog[open]")))
	au.check("log out everywhere dialog", "confirm-dialog-cancel")
	laptop.do(chromedp.Click(chromedp.CSS("#confirm-dialog-cancel"), chromedp.NodeVisible))
	laptop.open("/sessions/confirm/others")
	au.check("log out others confirmation", "")
	laptop.open("/sessions/confirm/everywhere")
	au.check("log out everywhere confirmation", "")

	laptop.open("/security-log")
	au.check("security log", "")
	au.at(390, func() { laptop.screenshot(shots, "security-log-phone.png") })
	text := laptop.text()
	for _, want := range []string{"Logged out Chrome 130 on Linux", "Created the account", "Connected the app “Sample Calendar”"} {
		if !strings.Contains(text, want) {
			t.Errorf("the security log does not say %q", want)
		}
	}
	if strings.Contains(text, "Logged out a session") {
		t.Error("the security log does not say which device was logged out")
	}

	// Times: relative, with the full date on hover in the viewer's time
	// zone (here Tokyo's, UTC+9 all year).
	setTimezone := func(id string) {
		if _, err := chromedp.Call(laptop.ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: id}); err != nil {
			t.Fatal(err)
		}
	}
	setTimezone("Asia/Tokyo")
	laptop.open("/security-log")
	times := runIn(laptop, chromedp.Evaluate[[]struct {
		Text  string `json:"text"`
		Title string `json:"title"`
	}](`[...document.querySelectorAll("time[data-relative]")].map(t => ({text: t.textContent, title: t.title}))`))
	if len(times) == 0 {
		t.Fatal("the security log shows no times")
	}
	relative := regexp.MustCompile(`^(now|\d+ (minute|hour|day)s? ago|an? (minute|hour) ago|yesterday|last week|\d+ weeks? ago)$|, 20\d\d`)
	for _, tm := range times {
		if !relative.MatchString(tm.Text) || !strings.Contains(tm.Title, "GMT+9") {
			t.Errorf("a time in the log reads %q with title %q, want a relative time and the full date in Tokyo's time on hover", tm.Text, tm.Title)
		}
	}
	setTimezone("") // the machine's again

	laptop.open("/apps")
	au.check("connected apps", "")
	appID := runIn(laptop, chromedp.Evaluate[string](`document.querySelector("li.app").dataset.id`))
	laptop.open("/apps/" + appID)
	laptop.expect("/apps/"+appID, "Sample Calendar", "Read your profile", "Revoke access")
	au.check("app page", "")
	laptop.do(chromedp.Click(chromedp.CSS(`form[data-post] button`), chromedp.NodeVisible), chromedp.WaitVisible(chromedp.CSS("dialog.confirm-dialog[open]")))
	au.check("app revoke dialog", "confirm-dialog-cancel")
	laptop.do(chromedp.Click(chromedp.CSS("#confirm-dialog-cancel"), chromedp.NodeVisible))
	laptop.open("/apps/" + appID + "?confirm=revoke")
	au.check("app revoke confirmation", "")
	laptop.open("/apps")
	laptop.submit(`form[action="/apps/demo"] button`)
	laptop.expect("/apps", "is connected", "shown only this once")
	au.check("app token shown once", "token-heading")

	laptop.open("/password")
	au.check("password page", "")
	laptop.fill("#current", "wrong password")
	laptop.fill("#new", "a much better passphrase")
	laptop.fill("#confirm", "a much better passphrase")
	laptop.submit(`form[action="/password"] button`)
	au.check("password error", "current")

	// Two-factor: set up, from step 1.
	laptop.open("/two-factor")
	au.check("two-factor off", "")
	laptop.submit(`form[action="/two-factor/enroll"] button`)
	laptop.expect("/two-factor", "Scan this QR code")
	au.check("two-factor setup", "scan-heading")
	secret := strings.ReplaceAll(runIn(laptop, chromedp.Text(chromedp.CSS("#totp-secret"))), " ", "")
	laptop.fill("#confirm-code", "000000")
	laptop.submit(`form[action="/two-factor/confirm"] button`)
	laptop.expect("/two-factor?f=confirm-code&m=wrong-code", "That code is not right.")
	au.check("two-factor setup, wrong code", "confirm-code")
	laptop.enterCode("#confirm-code", secret, clock)
	laptop.submit(`form[action="/two-factor/confirm"] button`)
	laptop.expect("/two-factor/recovery-codes?m=2fa-enabled", "Save these codes now")
	au.check("recovery codes shown once", "save-heading")
	codes := runIn(laptop, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#recovery-codes code")].map(c => c.textContent)`))
	href := runIn(laptop, chromedp.Evaluate[string](`document.querySelector("[data-download]").href`))
	download, err := url.PathUnescape(strings.TrimPrefix(href, "data:text/plain;charset=utf-8,"))
	if err != nil || !strings.HasPrefix(href, "data:text/plain;charset=utf-8,") {
		t.Fatalf("the download link is %q, want a data: URL of text (%v)", href, err)
	}
	for _, c := range codes {
		if !strings.Contains(download, c+"\n") {
			t.Errorf("the downloaded file lacks the code %s:\n%s", c, download)
		}
	}
	if name := runIn(laptop, chromedp.Evaluate[string](`document.querySelector("[data-download]").getAttribute("download")`)); !strings.HasSuffix(name, ".txt") {
		t.Errorf("the download is named %q, want a .txt file", name)
	}
	laptop.do(chromedp.Click(chromedp.CSS("[data-copy]")))
	copied := runIn(laptop, chromedp.Poll[string](`(() => { const b = document.querySelector("[data-copy]"); return b.textContent !== "Copy codes" && b.textContent; })()`))
	if copied != "Codes copied" {
		t.Errorf("the copy button says %q, want Codes copied", copied)
	} else if got := runIn(laptop, chromedp.Evaluate[string](`navigator.clipboard.readText()`, chromedp.EvalAwaitPromise)); !strings.Contains(got, codes[0]) {
		t.Errorf("the clipboard holds %q, want the codes", got)
	}

	laptop.open("/two-factor")
	au.check("two-factor on", "")
	laptop.fill("#regenerate-code", "000000")
	laptop.submit(`form[action="/two-factor/recovery-codes"] button`)
	au.check("regenerate codes, wrong code", "regenerate-code")
	laptop.open("/two-factor/recovery-codes")
	au.check("recovery codes already shown", "")
	laptop.open("/nowhere")
	au.check("404, logged in", "")
	laptop.open("/sessions?m=ended-one")
	if n := runIn(laptop, chromedp.Evaluate[int](`document.querySelectorAll(".flash.success").length`)); n != 1 {
		t.Errorf("a success message: got %d success-styled messages, want 1", n)
	}
	au.check("sessions with a success message", "")

	// The second step of logging in.
	laptop.signOut()
	au.check("logged out", "username")
	laptop.signIn(demoUser, demoPassword)
	laptop.expect("/login/2fa", "Code from your authenticator app")
	au.check("second factor", "code")
	laptop.fill("#code", "000000")
	laptop.submit(`form[action="/login/2fa"] button[type=submit]`)
	au.check("second factor, wrong code", "code")
	laptop.open("/login/2fa?with=recovery-code")
	au.check("second factor, recovery code", "recovery_code")
	laptop.open("/login/2fa")
	laptop.enterCode("#code", secret, clock)
	// "Don't ask again on this browser", by its label as a person would.
	laptop.do(chromedp.Click(chromedp.CSS(`label[for="trust"]`), chromedp.NodeVisible))
	if !runIn(laptop, chromedp.Evaluate[bool](`document.getElementById("trust").checked`)) {
		t.Error("clicking the label did not tick Don't ask again on this browser")
	}
	laptop.submit(`form[action="/login/2fa"] button[type=submit]`)
	laptop.expect("/?m=browser-trusted", "Hello, demo", "This browser is trusted")
	au.check("home, browser trusted", "")

	// Trusted: logging out and in again skips the code on this browser
	// (the logout's Clear-Site-Data leaves cookies alone).
	laptop.signOut()
	laptop.signIn(demoUser, demoPassword)
	laptop.expect("/", "Hello, demo")

	laptop.open("/two-factor")
	laptop.expect("/two-factor", "Trusted browsers", "Chrome")
	au.check("two-factor on, a trusted browser", "")
	laptop.do(chromedp.Click(chromedp.CSS(`li.trusted-browser form[data-post] button`), chromedp.NodeVisible), chromedp.WaitVisible(chromedp.CSS("dialog.confirm-dialog[open]")))
	if got := runIn(laptop, chromedp.Text(chromedp.CSS("dialog.confirm-dialog"))); !strings.Contains(got, "Stop trusting Chrome") || !strings.Contains(got, "will ask for a code") {
		t.Errorf("the dialog says %q, want the question and the consequence", got)
	}
	au.check("trusted browser remove dialog", "confirm-dialog-cancel")
	laptop.do(chromedp.Click(chromedp.CSS("#confirm-dialog-cancel"), chromedp.NodeVisible))
	runIn(laptop, chromedp.Poll[bool](`document.querySelectorAll("dialog").length === 0`))
	trustedID := runIn(laptop, chromedp.Evaluate[string](`document.querySelector("li.trusted-browser").dataset.id`))
	laptop.open("/two-factor/trusted-browsers/" + trustedID)
	au.check("trusted browser remove confirmation", "")
	laptop.submit(`form[action$="/remove"] button`)
	laptop.expect("/two-factor?m=browser-removed", "is no longer trusted", "No browser is trusted.")
	au.check("trusted browser removed", "")

	// Security keys and passkeys: a key as the ceremony stores it (this
	// server's address is not the relying party's origin "localhost", so
	// the real ceremonies are TestBrowserPasskeyCard's), its rename field,
	// its removal dialog and page, and a registration the browser refuses.
	if err := demoApp.store.CreatePasskey(context.Background(), &storage.Passkey{ID: "audit-key", UserID: userID(t, demoApp, demoUser, demoPassword),
		CredentialID: []byte("audit-key"), Name: "YubiKey 5C", Data: []byte("{}"), CreatedAt: clock.Now()}); err != nil {
		t.Fatal(err)
	}
	laptop.open("/two-factor")
	laptop.expect("/two-factor", "Security keys and passkeys", "YubiKey 5C", "never used")
	au.check("two-factor on, a security key", "")
	laptop.do(chromedp.Click(chromedp.CSS(`li.passkey details[data-rename] summary`), chromedp.NodeVisible), chromedp.WaitVisible(chromedp.CSS(`#rename-audit-key`)))
	au.check("security key rename field", "summary")
	laptop.do(chromedp.Click(chromedp.CSS(`li.passkey form[data-post] button`), chromedp.NodeVisible), chromedp.WaitVisible(chromedp.CSS("dialog.confirm-dialog[open]")))
	if got := runIn(laptop, chromedp.Text(chromedp.CSS("dialog.confirm-dialog"))); !strings.Contains(got, "Remove YubiKey 5C?") || !strings.Contains(got, "won't be able to log in with it") {
		t.Errorf("the dialog says %q, want the question and the consequence", got)
	}
	au.check("security key remove dialog", "confirm-dialog-cancel")
	laptop.do(chromedp.Click(chromedp.CSS("#confirm-dialog-cancel"), chromedp.NodeVisible))
	runIn(laptop, chromedp.Poll[bool](`document.querySelectorAll("dialog").length === 0`))
	laptop.open("/two-factor/passkeys/audit-key")
	au.check("security key remove confirmation", "")
	laptop.open("/two-factor")
	laptop.fill("#passkey-name", "Phone")
	laptop.do(chromedp.Click(chromedp.CSS(`#passkey-register button[type=submit]`), chromedp.NodeVisible), chromedp.WaitVisible(chromedp.CSS(`#passkey-error`)))
	if got := runIn(laptop, chromedp.Evaluate[string](`(() => { const f = document.getElementById("passkey-name"); return f.getAttribute("aria-invalid") + " " + f.getAttribute("aria-describedby"); })()`)); got != "true passkey-name-hint passkey-error" {
		t.Errorf("the name field after a refused registration: got %q, want it invalid and described by the error", got)
	}
	au.check("security key registration refused", "passkey-name")

	laptop.signOut()
	laptop.signIn(demoUser, demoPassword)
	laptop.expect("/login/2fa", "Code from your authenticator app", "Use a security key or passkey")
	au.check("second factor, with a security key", "code")
}

// newDemoServer serves an app with the demo data of -demo (seedDemo) on a
// test clock, with the demo's fake locator and X-Forwarded-For trusted from
// loopback.
func newDemoServer(t *testing.T) (*httptest.Server, *app, *testClock) {
	t.Helper()
	clock := fakeclock.New(time.Now().UTC().Truncate(time.Minute).Add(-demoSpan))
	a, err := newApp(appConfig{
		DataDir: t.TempDir(), Logger: quietLogger(), BcryptCost: bcrypt.MinCost, StoreKind: storeMemory,
		Clock: clock.Now, Locator: demoLocations, TrustedProxies: loopback, Demo: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := seedDemo(a, clock.Advance); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(func() { srv.Close(); a.Close() })
	return srv, a, clock
}

// axeSource returns axe-core's script, from the file SESSION_TEST_AXE
// names.
func axeSource(t *testing.T) string {
	t.Helper()
	path := os.Getenv("SESSION_TEST_AXE")
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("SESSION_TEST_AXE is not set: it names axe.min.js of the npm package axe-core (required when CI=true; .ci/run installs it)")
		}
		t.Skip("SESSION_TEST_AXE is not set: set it to axe.min.js of the npm package axe-core (npm install axe-core) to run the accessibility test")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("SESSION_TEST_AXE: %v", err)
	}
	return string(b)
}

// auditWidths are the viewport widths every page must work at: small,
// common and large phones, and a laptop.
var auditWidths = []int64{320, 360, 390, 1280}

// axeTags are the rules axe-core runs: WCAG 2.0, 2.1 and 2.2 at levels A
// and AA, and its best practices.
const axeTags = `["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa", "best-practice"]`

type auditor struct {
	t   *testing.T
	p   *profile
	axe string
	n   int // states checked so far
}

// at runs f with the viewport width w (and the window's height), then
// restores the laptop's viewport.
func (au *auditor) at(w int64, f func()) {
	au.t.Helper()
	au.p.do(chromedp.EmulateViewport(w, 800, chromedp.EmulateScale(1)))
	defer au.p.do(chromedp.EmulateViewport(1280, 800, chromedp.EmulateScale(1)))
	f()
}

type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// check audits the page shown, in the state it is in: focus first (the
// element with id focus, or the page itself when focus is ""), then, at
// each width, horizontal overflow and (at the narrowest and widest) axe.
func (au *auditor) check(state string, focus string) {
	t := au.t
	t.Helper()
	where := au.p.where()
	// Autofocus and the script's focus happen once the page has rendered:
	// give them a moment on a loaded machine.
	var active string
	for range 20 {
		active = runIn(au.p, chromedp.Evaluate[string](`(() => { const a = document.activeElement; return a && a !== document.body ? (a.id || a.tagName.toLowerCase()) : ""; })()`))
		if active == focus {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if active != focus {
		t.Errorf("%s (%s): the focus is on %q, want %q", state, where, active, focus)
	}
	au.n++
	if dir := os.Getenv("SESSION_AUDIT_SCREENSHOTS"); dir != "" {
		// Every state on a 390 px phone, to look at (not for the README).
		name := fmt.Sprintf("%02d-%s.png", au.n, strings.NewReplacer(" ", "-", ",", "", "'", "").Replace(state))
		au.at(390, func() { au.p.screenshot(dir, name) })
	}
	for _, w := range auditWidths {
		au.at(w, func() {
			overflow := runIn(au.p, chromedp.Evaluate[[]string](overflowScript))
			for _, o := range overflow {
				t.Errorf("%s (%s) at %d px: %s", state, where, w, o)
			}
			if w != auditWidths[0] && w != auditWidths[len(auditWidths)-1] {
				return
			}
			if !runIn(au.p, chromedp.Evaluate[bool](`typeof axe !== "undefined"`)) {
				runIn(au.p, chromedp.Evaluate[bool](au.axe+"\n;true"))
			}
			violations := runIn(au.p, chromedp.Evaluate[[]axeViolation](`axe.run(document, {runOnly: {type: "tag", values: `+axeTags+`}, resultTypes: ["violations"]})
				.then(r => r.violations.map(v => ({id: v.id, impact: v.impact || "", help: v.help,
					nodes: v.nodes.map(n => n.target.join(" ") + ": " + (n.failureSummary || "").replace(/\s+/g, " "))})))`, chromedp.EvalAwaitPromise))
			for _, v := range violations {
				t.Errorf("%s (%s) at %d px: axe %s (%s): %s\n\t%s", state, where, w, v.ID, v.Impact, v.Help, strings.Join(v.Nodes, "\n\t"))
			}
		})
	}
}

// overflowScript lists what overflows horizontally: the page wider than
// the viewport, an element reaching past the viewport's edges, or an
// element whose content runs past its own box without a scrollbar of its
// own. Elements hidden on purpose (the skip link until focused, visually
// hidden text) are not laid out in view and are left out.
var overflowScript = fmt.Sprintf(`(() => {
	const vw = document.documentElement.clientWidth;
	const bad = [];
	const name = el => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\s+/).join(".") : "");
	if (document.documentElement.scrollWidth > vw) {
		bad.push("the page scrolls sideways: " + document.documentElement.scrollWidth + " px wide in a " + vw + " px viewport");
	}
	for (const el of document.querySelectorAll("body *")) {
		if (el.closest(".skip, .visually-hidden, [hidden], script, style")) continue;
		const r = el.getBoundingClientRect();
		if (r.width === 0 && r.height === 0) continue;
		if (r.right > vw + %[1]g || r.left < -%[1]g) {
			bad.push(name(el) + " reaches past the viewport (" + Math.round(r.left) + " to " + Math.round(r.right) + " px of " + vw + ")");
			continue;
		}
		const cs = getComputedStyle(el);
		if (cs.display !== "inline" && cs.overflowX === "visible" && el.clientWidth > 0 && el.scrollWidth > el.clientWidth + %[1]g) {
			bad.push(name(el) + "'s content runs past its box (" + el.scrollWidth + " px in " + el.clientWidth + ")");
		}
	}
	return bad;
})()`, 1.0)
