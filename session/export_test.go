package session

import "time"

// Test-only views of a Manager's effective configuration for the external
// tests (package session_test).

func CookieNameOf(m *Manager) string           { return m.cfg.CookieName }
func RevocationTTLOf(m *Manager) time.Duration { return m.revocationTTL }
