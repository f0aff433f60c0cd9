// Package device turns a User-Agent header into the [storage.Device] shown in
// a user's sessions list, and into a short label a person recognises at a
// glance ("Chrome 131 on macOS", "Safari 18 on iPhone").
//
// Parsing is done by github.com/mileusna/useragent; this package bounds and
// cleans the input first, maps the library's names to the ones people know,
// and reduces versions to the major number. A User-Agent is whatever the
// client chose to send: the result is a hint for the account owner, never a
// security decision.
//
// Known limits, inherent to the header: Safari on iPadOS and Chrome's
// "request desktop site" send a desktop User-Agent, so such a tablet or phone
// shows as macOS or Linux desktop; browsers that freeze their User-Agent
// (Chrome, Edge) report a fixed OS version, which is why only the OS name is
// kept.
//
// Everything here is a pure function, safe for concurrent use.
package device

import (
	"strings"

	"github.com/mileusna/useragent"
	"github.com/sessionguard/sessionguard/storage"
)

// Device types, the only values Parse puts in [storage.Device.Type].
const (
	TypeDesktop = "desktop"
	TypeMobile  = "mobile"
	TypeTablet  = "tablet"
	TypeBot     = "bot"
	TypeUnknown = "unknown"
)

const (
	// maxName bounds a browser name taken from an unrecognised product
	// token: real ones ("Go-http-client", "facebookexternalhit") are short.
	maxName = 40
	// maxVersionDigits bounds a major version.
	maxVersionDigits = 6
)

// Parse describes the client that sent the User-Agent ua. It first applies
// Truncate(ua, MaxUserAgent), so any header is safe to pass and the work is
// bounded.
//
// Browser is the browser or client name ("Chrome", "Samsung Internet",
// "X app", "curl", "Googlebot"), BrowserVersion its major version ("131"),
// OS one of "Windows", "macOS", "iOS", "Android", "Linux", "ChromeOS",
// "FreeBSD", "Windows Phone", "BlackBerry", "HarmonyOS"; each is "" when
// unknown. Type is always one of the Type constants: crawlers and headless
// browsers are TypeBot; command-line and library clients (curl,
// Go-http-client) are TypeUnknown, since they say nothing about the machine.
//
// Every field is valid UTF-8 without control characters: the browser name is
// a known name or an HTTP token (RFC 9110 §5.6.2) of at most 40 bytes, the
// version is ASCII digits.
func Parse(ua string) storage.Device {
	ua = Truncate(ua, MaxUserAgent)
	if strings.TrimSpace(ua) == "" {
		return storage.Device{Type: TypeUnknown}
	}
	p := useragent.Parse(ua)

	name, version := p.Name, p.Version
	// The Android in-app browser of X looks like Chrome's WebView with a
	// "TwitterAndroid" suffix; prefer the app.
	if i := strings.Index(ua, "TwitterAndroid"); i >= 0 && name != "TwitterAndroid" {
		name, version = "TwitterAndroid", ""
		if rest := ua[i+len("TwitterAndroid"):]; strings.HasPrefix(rest, "/") {
			version = rest[1:]
		}
	}
	d := storage.Device{
		Browser:        browserName(name),
		BrowserVersion: majorVersion(version),
		OS:             osName(p.OS),
	}

	mobile, tablet := p.Mobile, p.Tablet
	switch name {
	case "Twitter-iPhone":
		d.OS, mobile = "iOS", true
	case "Twitter-iPad":
		d.OS, tablet = "iOS", true
	case "TwitterAndroid":
		// The native client does not say phone or tablet; phones are
		// by far the most common.
		if d.OS == "" {
			d.OS = "Android"
		}
		mobile = mobile || !tablet
	}
	// Chromium on Android marks phones with "Mobile" and tablets by its
	// absence; the library calls every Android device mobile.
	if d.OS == "Android" && strings.Contains(ua, "Chrome/") && !strings.Contains(ua, "Mobile") {
		tablet = true
	}

	switch {
	case p.Bot || isBotName(name):
		d.Type = TypeBot
	case tablet:
		d.Type = TypeTablet
	case mobile:
		d.Type = TypeMobile
	case p.Desktop:
		d.Type = TypeDesktop
	default:
		d.Type = TypeUnknown
	}
	return d
}

// browserName returns the name people know for the library's browser or
// client name n, or "" if n is not something worth showing.
func browserName(n string) string {
	switch n {
	case useragent.SamsungBrowser:
		return "Samsung Internet"
	case "Android browser":
		return "Android Browser"
	case "Miui Browser":
		return "MIUI Browser"
	case useragent.FacebookApp:
		return "Facebook app"
	case useragent.InstagramApp:
		return "Instagram app"
	case useragent.TiktokApp:
		return "TikTok app"
	case "Twitter for iPhone", "Twitter for iPad", "TwitterAndroid", "Twitter-iPhone", "Twitter-iPad":
		// X, formerly Twitter: its in-app browser on iOS appends
		// "Twitter for iPhone/10.64", the native clients send
		// "TwitterAndroid/10.53…" or "Twitter-iPhone/10.64…".
		return "X app"
	}
	return productName(n)
}

// osName maps the library's operating system name to the one people know,
// or "" for anything else.
func osName(n string) string {
	switch n {
	case useragent.Windows:
		return "Windows"
	case useragent.WindowsPhone:
		return "Windows Phone"
	case useragent.MacOS:
		return "macOS"
	case useragent.IOS:
		return "iOS"
	case useragent.Android:
		return "Android"
	case useragent.Linux:
		return "Linux"
	case useragent.FreeBSD:
		return "FreeBSD"
	case useragent.ChromeOS, useragent.CrOS:
		return "ChromeOS"
	case useragent.BlackBerry:
		return "BlackBerry"
	case useragent.Harmony:
		return "HarmonyOS"
	}
	return ""
}

// productName returns n if it looks like a product name: at most maxName
// bytes of HTTP token characters (RFC 9110 §5.6.2) and inner spaces,
// including a letter. For a User-Agent with no product token the library
// returns the whole header, and for markup a fragment of it; both become "".
func productName(n string) string {
	n = strings.TrimSpace(n)
	if n == "" || len(n) > maxName {
		return ""
	}
	letter := false
	for i := 0; i < len(n); i++ {
		c := n[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
			letter = true
		case '0' <= c && c <= '9', c == ' ', strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return ""
		}
	}
	if !letter {
		return ""
	}
	return n
}

// majorVersion returns the leading digits of v ("131" for "131.0.6778.69"),
// or "" if v does not start with a digit or the number is implausibly long.
func majorVersion(v string) string {
	n := 0
	for n < len(v) && '0' <= v[n] && v[n] <= '9' {
		n++
	}
	if n == 0 || n > maxVersionDigits {
		return ""
	}
	return v[:n]
}

// isBotName reports whether a client name is a crawler's: the library flags
// the well-known ones, this catches the rest by the conventional words.
func isBotName(n string) bool {
	n = strings.ToLower(n)
	return strings.Contains(n, "bot") || strings.Contains(n, "spider") || strings.Contains(n, "crawler")
}

// Label returns a short description of d for a person:
//
//   - browser, major version and platform: "Chrome 131 on macOS",
//     "Safari 18 on iPhone", "Samsung Internet 27 on Android";
//   - the platform names the device where the OS implies it: iOS is "iPhone"
//     on a mobile and "iPad" on a tablet, Android on a tablet is
//     "Android tablet";
//   - bots and clients without an OS have no platform: "Googlebot 2",
//     "curl 8";
//   - an OS without a browser: "Unknown browser on Windows";
//   - nothing known: "Unknown device"; a bot with no name: "Bot".
//
// The version is left out when unknown ("Safari on iPhone"). Label cleans
// each field as Truncate does, so it is safe on a Device read back from
// storage; the result is text, and the caller escapes it when rendering.
func Label(d storage.Device) string {
	browser := strings.TrimSpace(Truncate(d.Browser, 64))
	version := strings.TrimSpace(Truncate(d.BrowserVersion, 16))
	typ := d.Type
	if browser != "" && version != "" {
		browser += " " + version
	}
	if typ == TypeBot {
		if browser == "" {
			return "Bot"
		}
		return browser
	}
	platform := strings.TrimSpace(Truncate(d.OS, 64))
	switch {
	case platform == "iOS" && typ == TypeMobile:
		platform = "iPhone"
	case platform == "iOS" && typ == TypeTablet:
		platform = "iPad"
	case platform == "Android" && typ == TypeTablet:
		platform = "Android tablet"
	}
	switch {
	case browser != "" && platform != "":
		return browser + " on " + platform
	case browser != "":
		return browser
	case platform != "":
		return "Unknown browser on " + platform
	default:
		return "Unknown device"
	}
}
