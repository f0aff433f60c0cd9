package chromiumtest

import "testing"

func TestPathPrefersTheVariable(t *testing.T) {
	t.Setenv("SESSION_TEST_CHROMIUM", "/opt/chromium/chrome")
	if got, want := Path(t, "this test"), "/opt/chromium/chrome"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
