package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations are the schema versions in order: migrations[i] takes the
// database from PRAGMA user_version i to i+1. Never edit a released
// migration; append a new one.
var migrations = [][]string{
	// 1: everything.
	{
		// Sessions, keyed by the SHA-256 of their token. Times are Unix
		// nanoseconds (see encodeTime).
		`CREATE TABLE sessions (
			token_hash             BLOB    NOT NULL PRIMARY KEY CHECK (length(token_hash) = 32),
			handle                 TEXT    NOT NULL UNIQUE,
			user_id                TEXT    NOT NULL,
			created_at             INTEGER NOT NULL,
			expires_at             INTEGER NOT NULL,
			auth_level             INTEGER NOT NULL,
			auth_at                INTEGER NOT NULL,
			last_seen_at           INTEGER NOT NULL,
			last_seen_ip           TEXT    NOT NULL,
			user_agent             TEXT    NOT NULL,
			device_browser         TEXT    NOT NULL,
			device_browser_version TEXT    NOT NULL,
			device_os              TEXT    NOT NULL,
			device_type            TEXT    NOT NULL,
			location_city          TEXT    NOT NULL,
			location_region        TEXT    NOT NULL,
			location_country       TEXT    NOT NULL,
			location_country_code  TEXT    NOT NULL
		) STRICT`,
		// The sessions list: one user's sessions, most recent activity first.
		`CREATE INDEX sessions_user_last_seen ON sessions (user_id, last_seen_at DESC, created_at DESC)`,
		`CREATE INDEX sessions_expires_at ON sessions (expires_at)`,

		`CREATE TABLE totp (
			user_id      TEXT    NOT NULL PRIMARY KEY,
			secret       BLOB    NOT NULL,
			key_id       TEXT    NOT NULL,
			confirmed    INTEGER NOT NULL,
			created_at   INTEGER NOT NULL,
			confirmed_at INTEGER NOT NULL,
			last_step    INTEGER NOT NULL
		) STRICT`,

		`CREATE TABLE recovery_codes (
			user_id TEXT NOT NULL,
			hash    BLOB NOT NULL CHECK (length(hash) = 32),
			PRIMARY KEY (user_id, hash)
		) STRICT, WITHOUT ROWID`,

		`CREATE TABLE throttle (
			user_id      TEXT    NOT NULL PRIMARY KEY,
			failures     INTEGER NOT NULL,
			locked_until INTEGER NOT NULL
		) STRICT`,

		`CREATE TABLE app_grants (
			id           TEXT    NOT NULL PRIMARY KEY,
			user_id      TEXT    NOT NULL,
			app_name     TEXT    NOT NULL,
			scopes       TEXT    NOT NULL, -- JSON array of strings, or null
			token_hash   BLOB    NOT NULL UNIQUE CHECK (length(token_hash) = 32),
			created_at   INTEGER NOT NULL,
			last_used_at INTEGER NOT NULL
		) STRICT`,
		`CREATE INDEX app_grants_user ON app_grants (user_id, created_at DESC)`,

		// AUTOINCREMENT: an ID is never reused, even after the newest
		// events are deleted, so pagination cursors stay valid.
		`CREATE TABLE events (
			id             INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
			user_id        TEXT    NOT NULL,
			type           TEXT    NOT NULL,
			at             INTEGER NOT NULL,
			session_handle TEXT    NOT NULL,
			ip             TEXT    NOT NULL,
			device         TEXT    NOT NULL,
			location       TEXT    NOT NULL,
			detail         TEXT    NOT NULL
		) STRICT`,
		`CREATE INDEX events_user_id ON events (user_id, id)`,
		`CREATE INDEX events_at ON events (at)`,

		// The revocation log read by every Store's poller. AUTOINCREMENT:
		// IDs keep increasing after the sweep empties the table, so a
		// poller's "id > last" never misses a row.
		`CREATE TABLE revocations (
			id         INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
			origin     BLOB    NOT NULL,
			user_id    TEXT    NOT NULL,
			token_hash BLOB    CHECK (token_hash IS NULL OR length(token_hash) = 32),
			created_at INTEGER NOT NULL
		) STRICT`,
		`CREATE INDEX revocations_created_at ON revocations (created_at)`,
	},
	// 2: who acted, when not the user (storage.Event.Actor).
	{
		`ALTER TABLE events ADD COLUMN actor TEXT NOT NULL DEFAULT ''`,
	},
	// 3: device bindings (binding.go).
	bindingMigration,
	// 4: trusted browsers (trusted.go).
	trustedBrowsersSchema,
	// 5: passkeys and their challenges (passkey.go).
	passkeysSchema,
	// 6: throttle expiry (totp.go).
	throttleExpirySchema,
}

// SchemaVersion is the schema version this package creates and expects
// (PRAGMA user_version). [Open] refuses a database with a newer version,
// written by a later release of this package.
const SchemaVersion = 6

// migrate brings the database up to SchemaVersion. It runs in one
// immediate transaction, so concurrent openers (goroutines or processes)
// wait for each other and the migrations run once.
func migrate(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil) // BEGIN IMMEDIATE (_txlock in the DSN)
	if err != nil {
		return wrap(ctx, "migrate", err)
	}
	defer tx.Rollback()
	var v int
	if err := tx.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v); err != nil {
		return wrap(ctx, "migrate: read version", err)
	}
	if v > SchemaVersion {
		return fmt.Errorf("storage/sqlite: migrate: database schema version %d is newer than this package's %d", v, SchemaVersion)
	}
	if v == SchemaVersion {
		return nil
	}
	for i := v; i < SchemaVersion; i++ {
		for _, stmt := range migrations[i] {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return wrap(ctx, fmt.Sprintf("migrate to version %d", i+1), err)
			}
		}
	}
	// PRAGMA takes no parameters; the value is a constant.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, SchemaVersion)); err != nil {
		return wrap(ctx, "migrate: set version", err)
	}
	return wrap(ctx, "migrate: commit", tx.Commit())
}
