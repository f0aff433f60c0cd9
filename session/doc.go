// Package session is the session-security layer for net/http applications:
// signed and encrypted session cookies with key rotation, server-side
// revocation checked on every request through an in-process cache, idle and
// absolute timeouts, and ready JSON handlers for "log out", "log out all
// other sessions", "log out everywhere" and the list of a user's devices.
//
// # Quick start
//
// The complete program is example/quickstart in the repository (the
// README's Quick start, kept identical to it by a test):
//
//	store := memory.New(memory.Options{})
//	keys, _ := session.GenerateKeyPair() // keep them: persist, never commit
//	m, err := session.New(session.Config{Store: store, Keys: []session.KeyPair{keys}})
//	if err != nil { ... }
//	defer m.Close()
//
//	mux := http.NewServeMux()
//	mux.Handle("/auth/", m.Routes()) // also behind http.StripPrefix, or chi's r.Mount("/auth", m.Routes())
//	mux.Handle("GET /account", m.RequireAuth(accountPage))
//	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
//		// ... verify the password, then:
//		m.Login(w, r, userID, storage.AuthPassword)
//	})
//	http.ListenAndServe(addr, m.Handler(mux)) // cross-origin protection on every POST included
//
// # Where things are
//
// [Manager] is about sessions: sign-in ([Manager.Login]), re-authentication
// ([Manager.Elevate]), logout and revocation, the middleware
// ([Manager.Handler]) and its wrappers ([Manager.RequireAuth],
// [Manager.JSONGuard]). Connected apps are [AppTokens] ([Manager.Apps]) and
// the security log is [SecurityLog] ([Manager.SecurityLog]); both share the
// Manager's store and revocation cache. Operations that write to the
// security log take an [Audit] naming the request that asked for them.
// DESIGN.md in the repository maps the packages and the request path;
// SECURITY.md states the guarantees and the standards behind them.
//
// # The request path
//
// [Manager.Handler] reads the cookie and decodes it (securecookie,
// HMAC-SHA256 + AES-256; a 4-character key-ID prefix picks the key pair, so
// a cookie sealed by an older key costs the same as a current one).
// Garbage, tampered, oversized or expired cookies are rejected before any
// storage I/O. The token's SHA-256 is then looked up in a sharded cache
// (CLOCK eviction, an LRU approximation, with a per-user index so that
// ending a user's sessions costs O(that user's entries)); on a miss one
// storage read fills it. A "live" answer is trusted for at
// most [Config.RevocationTTL]; a revoked token is remembered (tombstone)
// until its cookie would have expired anyway. Idle and absolute timeouts
// are enforced from server-side state, and last activity is written at
// most once per [Config.TouchInterval].
//
// # Revocation guarantees
//
// After [Manager.Revoke], [Manager.RevokeOthers], [Manager.RevokeAll] or
// [Manager.Logout] returns, the same Manager rejects the revoked sessions on
// the very next request. Every other Manager sharing the store rejects them
// as soon as the store's notifier delivers the revocation (milliseconds), and
// in any case within RevocationTTL. A cache fill that raced a revocation
// never puts the session back: every invalidation bumps a generation
// counter and fills that started before it are dropped. If storage fails
// on a cache miss the request is not authenticated: [Config.ErrorHandler]
// answers (503 by default).
package session
