package device

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/sessionguard/sessionguard/storage"
)

// Real User-Agent strings as current browsers and clients send them.
const (
	uaChromeWindows  = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	uaChromeMac      = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	uaChromeLinux    = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	uaChromeOS       = "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	uaFirefoxWindows = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
	uaFirefoxLinux   = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
	uaSafariMac      = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15"
	uaSafariIPhone   = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
	uaSafariIPad     = "Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
	uaChromeIPhone   = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1"
	uaFirefoxIPhone  = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/133.0 Mobile/15E148 Safari/605.1.15"
	uaEdgeWindows    = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0"
	uaOperaWindows   = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 OPR/115.0.0.0"
	uaChromeAndroid  = "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36"
	uaEdgeAndroid    = "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36 EdgA/131.0.0.0"
	uaFirefoxAndroid = "Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0"
	uaSamsungPhone   = "Mozilla/5.0 (Linux; Android 14; SM-S928B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/27.0 Chrome/125.0.0.0 Mobile Safari/537.36"
	uaChromeTablet   = "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	uaSamsungTablet  = "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Safari/537.36"
	uaFirefoxTablet  = "Mozilla/5.0 (Android 14; Tablet; rv:133.0) Gecko/133.0 Firefox/133.0"
	uaXInAppIOS      = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/21G93 Twitter for iPhone/10.64.1"
	uaXInAppAndroid  = "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP2A.240805.005; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/128.0.6613.127 Mobile Safari/537.36 TwitterAndroid"
	uaXNativeAndroid = "TwitterAndroid/10.53.0-release.1 (310530001-r-1) RMX2117/11 (realme;RMX2117;realme;RMX2117;0;;1;2016)"
	uaXNativeIOS     = "Twitter-iPhone/10.64.1 iOS/17.6.1 (Apple;iPhone15,2;;;;;1;2022)"
	uaHeadless       = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36"
	uaGooglebot      = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
	uaGooglebotPhone = "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.69 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
	uaBingbot        = "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm) Chrome/131.0.0.0 Safari/537.36"
	uaCurl           = "curl/8.5.0"
	uaGo             = "Go-http-client/1.1"
	uaPython         = "python-requests/2.32.3"
)

func dev(browser, version, os, typ string) storage.Device {
	return storage.Device{Browser: browser, BrowserVersion: version, OS: os, Type: typ}
}

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		ua    string
		want  storage.Device
		label string
	}{
		{"Chrome on Windows is a Windows desktop", uaChromeWindows, dev("Chrome", "131", "Windows", TypeDesktop), "Chrome 131 on Windows"},
		{"Chrome on macOS is a Mac desktop", uaChromeMac, dev("Chrome", "131", "macOS", TypeDesktop), "Chrome 131 on macOS"},
		{"Chrome on Linux is a Linux desktop", uaChromeLinux, dev("Chrome", "131", "Linux", TypeDesktop), "Chrome 131 on Linux"},
		{"Chrome on a Chromebook reports ChromeOS", uaChromeOS, dev("Chrome", "131", "ChromeOS", TypeDesktop), "Chrome 131 on ChromeOS"},
		{"Firefox on Windows is a Windows desktop", uaFirefoxWindows, dev("Firefox", "133", "Windows", TypeDesktop), "Firefox 133 on Windows"},
		{"Firefox on Ubuntu is a Linux desktop", uaFirefoxLinux, dev("Firefox", "133", "Linux", TypeDesktop), "Firefox 133 on Linux"},
		{"Safari on macOS takes its version from Version/", uaSafariMac, dev("Safari", "18", "macOS", TypeDesktop), "Safari 18 on macOS"},
		{"Safari on an iPhone is an iOS mobile", uaSafariIPhone, dev("Safari", "18", "iOS", TypeMobile), "Safari 18 on iPhone"},
		{"Safari on an iPad is an iOS tablet", uaSafariIPad, dev("Safari", "18", "iOS", TypeTablet), "Safari 18 on iPad"},
		{"Chrome on an iPhone is recognised by CriOS", uaChromeIPhone, dev("Chrome", "131", "iOS", TypeMobile), "Chrome 131 on iPhone"},
		{"Firefox on an iPhone is recognised by FxiOS", uaFirefoxIPhone, dev("Firefox", "133", "iOS", TypeMobile), "Firefox 133 on iPhone"},
		{"Edge on Windows is not mistaken for Chrome", uaEdgeWindows, dev("Edge", "131", "Windows", TypeDesktop), "Edge 131 on Windows"},
		{"Opera on Windows is not mistaken for Chrome", uaOperaWindows, dev("Opera", "115", "Windows", TypeDesktop), "Opera 115 on Windows"},
		{"Chrome on an Android phone is a mobile", uaChromeAndroid, dev("Chrome", "131", "Android", TypeMobile), "Chrome 131 on Android"},
		{"Edge on an Android phone is recognised by EdgA", uaEdgeAndroid, dev("Edge", "131", "Android", TypeMobile), "Edge 131 on Android"},
		{"Firefox on an Android phone is a mobile", uaFirefoxAndroid, dev("Firefox", "133", "Android", TypeMobile), "Firefox 133 on Android"},
		{"Samsung Internet on a phone gets its public name", uaSamsungPhone, dev("Samsung Internet", "27", "Android", TypeMobile), "Samsung Internet 27 on Android"},
		{"Chrome on an Android tablet has no Mobile token", uaChromeTablet, dev("Chrome", "131", "Android", TypeTablet), "Chrome 131 on Android tablet"},
		{"Samsung Internet on a Galaxy Tab is a tablet", uaSamsungTablet, dev("Samsung Internet", "23", "Android", TypeTablet), "Samsung Internet 23 on Android tablet"},
		{"Firefox on an Android tablet says Tablet", uaFirefoxTablet, dev("Firefox", "133", "Android", TypeTablet), "Firefox 133 on Android tablet"},
		{"the X in-app browser on iOS is the X app", uaXInAppIOS, dev("X app", "10", "iOS", TypeMobile), "X app 10 on iPhone"},
		{"the X in-app browser on Android is the X app, not its WebView", uaXInAppAndroid, dev("X app", "", "Android", TypeMobile), "X app on Android"},
		{"the native X client on Android is the X app", uaXNativeAndroid, dev("X app", "10", "Android", TypeMobile), "X app 10 on Android"},
		{"the native X client on iOS is the X app on an iPhone", uaXNativeIOS, dev("X app", "10", "iOS", TypeMobile), "X app 10 on iPhone"},
		{"headless Chrome is a bot", uaHeadless, dev("Headless Chrome", "131", "Linux", TypeBot), "Headless Chrome 131"},
		{"Googlebot is a bot", uaGooglebot, dev("Googlebot", "2", "", TypeBot), "Googlebot 2"},
		{"Googlebot Smartphone is a bot, not an Android phone", uaGooglebotPhone, dev("Googlebot", "2", "Android", TypeBot), "Googlebot 2"},
		{"bingbot is a bot", uaBingbot, dev("Bingbot", "2", "", TypeBot), "Bingbot 2"},
		{"curl is a client of unknown type", uaCurl, dev("curl", "8", "", TypeUnknown), "curl 8"},
		{"Go's HTTP client is a client of unknown type", uaGo, dev("Go-http-client", "1", "", TypeUnknown), "Go-http-client 1"},
		{"python-requests is a client of unknown type", uaPython, dev("python-requests", "2", "", TypeUnknown), "python-requests 2"},
		{"an empty header is an unknown device", "", dev("", "", "", TypeUnknown), "Unknown device"},
		{"a blank header is an unknown device", " \t ", dev("", "", "", TypeUnknown), "Unknown device"},
		{"a bare Mozilla/5.0 names no browser", "Mozilla/5.0", dev("", "", "", TypeUnknown), "Unknown device"},
		{"CR LF injection is dropped and the browser still parses", uaChromeWindows + "\r\nSet-Cookie: a=b", dev("Chrome", "131", "Windows", TypeDesktop), "Chrome 131 on Windows"},
		{"a NUL byte is dropped", "curl/8.5.0\x00evil", dev("curl", "8", "", TypeUnknown), "curl 8"},
		{"invalid UTF-8 does not hide the browser", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) \xff\xfe AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15", dev("Safari", "18", "macOS", TypeDesktop), "Safari 18 on macOS"},
		{"script markup alone names nothing", "<script>alert(1)</script>", dev("", "", "", TypeUnknown), "Unknown device"},
		{"script markup after a real header never becomes the browser name", uaChromeWindows + " <script>alert(1)</script>", dev("", "", "Windows", TypeDesktop), "Unknown browser on Windows"},
		{"a browser version of absurd length is dropped", "Foo/12345678901234", dev("Foo", "", "", TypeUnknown), "Foo"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Parse(tt.ua)
			if got != tt.want {
				t.Errorf("Parse(%q) = %#v, want %#v", tt.ua, got, tt.want)
			}
			if got := Label(got); got != tt.label {
				t.Errorf("Label(Parse(%q)) = %q, want %q", tt.ua, got, tt.label)
			}
		})
	}
}

// checkClean fails t if s is not valid UTF-8 or holds a character Truncate
// drops.
func checkClean(t *testing.T, what, s string) {
	t.Helper()
	if !utf8.ValidString(s) {
		t.Errorf("%s = %q, not valid UTF-8", what, s)
	}
	for _, r := range s {
		if unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp) {
			t.Errorf("%s = %q, holds control or format character %U", what, s, r)
		}
	}
}

// checkDevice fails t unless d keeps the promises of Parse.
func checkDevice(t *testing.T, ua string, d storage.Device) {
	t.Helper()
	switch d.Type {
	case TypeDesktop, TypeMobile, TypeTablet, TypeBot, TypeUnknown:
	default:
		t.Errorf("Parse(%q).Type = %q, want one of the Type constants", ua, d.Type)
	}
	// Known names are product names too: letters and spaces.
	if productName(d.Browser) != d.Browser {
		t.Errorf("Parse(%q).Browser = %q, want a product name of at most %d bytes", ua, d.Browser, maxName)
	}
	if strings.Trim(d.BrowserVersion, "0123456789") != "" || len(d.BrowserVersion) > maxVersionDigits {
		t.Errorf("Parse(%q).BrowserVersion = %q, want at most %d digits", ua, d.BrowserVersion, maxVersionDigits)
	}
	switch d.OS {
	case "", "Windows", "Windows Phone", "macOS", "iOS", "Android", "Linux", "FreeBSD", "ChromeOS", "BlackBerry", "HarmonyOS":
	default:
		t.Errorf("Parse(%q).OS = %q, not one of the documented names", ua, d.OS)
	}
	checkClean(t, "Browser", d.Browser)
	checkClean(t, "BrowserVersion", d.BrowserVersion)
	checkClean(t, "OS", d.OS)
	label := Label(d)
	if label == "" {
		t.Errorf("Label(Parse(%q)) is empty", ua)
	}
	checkClean(t, "Label", label)
}

func TestParseHostileInput(t *testing.T) {
	t.Parallel()
	junk := make([]byte, 8<<10)
	for i := range junk {
		// A deterministic mix of every byte value, separators included.
		junk[i] = byte(i*131 + i/7)
	}
	tests := []struct {
		name string
		ua   string
	}{
		{"8 KiB of mixed bytes", string(junk)},
		{"8 KiB of separators", strings.Repeat("(;/)[]: ", 1024)},
		{"8 KiB of one long token", strings.Repeat("A", 8<<10)},
		{"8 KiB of NUL bytes", strings.Repeat("\x00", 8<<10)},
		{"8 KiB of invalid UTF-8", strings.Repeat("\xff\xc0", 4<<10)},
		{"a real header padded to 8 KiB", uaChromeWindows + strings.Repeat(" X/1", 2<<10)},
		{"bidirectional overrides", "Mozilla/5.0 (Windows NT 10.0) \u202eChrome/131\u202c"},
		{"a line separator", "curl/8.5.0\u2028Chrome/131"},
		{"a URL scheme with nothing after it", "Mozilla/5.0 (compatible; +http:"},
		{"a lone colon at the end", "Bot:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkDevice(t, tt.ua, Parse(tt.ua))
		})
	}
}

func TestLabel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		d    storage.Device
		want string
	}{
		{"a zero device is unknown", storage.Device{}, "Unknown device"},
		{"an unknown type alone is unknown", dev("", "", "", TypeUnknown), "Unknown device"},
		{"a version without a browser is not shown", dev("", "131", "", TypeDesktop), "Unknown device"},
		{"an OS without a browser names the OS", dev("", "", "Windows", TypeDesktop), "Unknown browser on Windows"},
		{"an iOS mobile without a browser is an iPhone", dev("", "", "iOS", TypeMobile), "Unknown browser on iPhone"},
		{"a browser without a version leaves it out", dev("Safari", "", "iOS", TypeMobile), "Safari on iPhone"},
		{"an iOS device of unknown type stays iOS", dev("Safari", "18", "iOS", TypeUnknown), "Safari 18 on iOS"},
		{"an Android phone is Android", dev("Chrome", "131", "Android", TypeMobile), "Chrome 131 on Android"},
		{"a bot without a name is a bot", dev("", "", "Linux", TypeBot), "Bot"},
		{"a bot never shows a platform", dev("Googlebot", "2", "Android", TypeBot), "Googlebot 2"},
		{"a client without an OS is its name and version", dev("curl", "8", "", TypeUnknown), "curl 8"},
		{"stored fields are cleaned of control characters", dev("Chrome\r\n", "131\x00", "mac\u202eOS", TypeDesktop), "Chrome 131 on macOS"},
		{"stored fields are repaired to valid UTF-8", dev("Chr\xffome", "", "", TypeUnknown), "Chr\ufffdome"},
		{"stored fields are cut to a sane length", dev(strings.Repeat("B", 100), "", "", TypeUnknown), strings.Repeat("B", 64)},
		{"markup stays text for the renderer to escape", dev("<b>x</b>", "", "", TypeUnknown), "<b>x</b>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Label(tt.d); got != tt.want {
				t.Errorf("Label(%#v) = %q, want %q", tt.d, got, tt.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, ua := range []string{
		uaChromeWindows, uaSafariIPhone, uaSafariIPad, uaChromeTablet, uaSamsungPhone, uaXInAppIOS,
		uaXInAppAndroid, uaXNativeAndroid, uaXNativeIOS, uaGooglebot, uaBingbot, uaCurl, uaGo,
		"", "\x00\r\n", "\xff", "<script>alert(1)</script>", "Mozilla/5.0 (compatible; +http:",
		"TwitterAndroid/", "Twitter-iPad/1", "Mozilla/5.0 (Linux; Android 9) Chrome/1",
	} {
		f.Add(ua)
	}
	f.Fuzz(func(t *testing.T, ua string) {
		d := Parse(ua)
		checkDevice(t, ua, d)
		if again := Parse(Truncate(ua, MaxUserAgent)); again != d {
			t.Errorf("Parse(Truncate(%q)) = %#v, want Parse's own %#v", ua, again, d)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	b.Run("Chrome on Windows", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			Parse(uaChromeWindows)
		}
	})
	b.Run("Safari on iPhone", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			Parse(uaSafariIPhone)
		}
	})
	hostile := strings.Repeat("(;/)[]: \x00\xff", 8<<10/10)
	b.Run("8 KiB hostile", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			Parse(hostile)
		}
	})
}

func BenchmarkLabel(b *testing.B) {
	d := Parse(uaChromeMac)
	b.ReportAllocs()
	for b.Loop() {
		Label(d)
	}
}
