// Package chromiumtest finds the Chromium binary for the browser tests of
// this module (the example's pages, DBSC, passkeys).
package chromiumtest

import (
	"os"
	"os/exec"
	"testing"
)

// Path returns the Chromium binary to drive: SESSION_TEST_CHROMIUM if set,
// else "chromium" on PATH. Without one it skips tb, naming the variable and
// what needs it (e.g. "the DBSC browser test"), except when CI=true, where
// a missing browser fails tb: CI installs Chromium, so a skip there would
// hide a broken setup.
func Path(tb testing.TB, what string) string {
	tb.Helper()
	if p := os.Getenv("SESSION_TEST_CHROMIUM"); p != "" {
		return p
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		tb.Fatal("chromium not found: install it or set SESSION_TEST_CHROMIUM (required when CI=true)")
	}
	tb.Skipf("chromium not found: install it or set SESSION_TEST_CHROMIUM to run %s", what)
	return ""
}
