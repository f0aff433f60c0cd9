package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// schemaV1 is migration 1: the whole storage model.
const schemaV1 = `
CREATE TABLE {schema}.sessions (
	token_hash      bytea       PRIMARY KEY CHECK (octet_length(token_hash) = 32),
	handle          text        NOT NULL UNIQUE,
	user_id         text        NOT NULL,
	created_at      timestamptz NOT NULL,
	expires_at      timestamptz NOT NULL,
	auth_level      smallint    NOT NULL,
	auth_at         timestamptz NOT NULL,
	last_seen_at    timestamptz NOT NULL,
	last_seen_ip    text        NOT NULL,
	user_agent      text        NOT NULL,
	browser         text        NOT NULL,
	browser_version text        NOT NULL,
	os              text        NOT NULL,
	device_type     text        NOT NULL,
	city            text        NOT NULL,
	region          text        NOT NULL,
	country         text        NOT NULL,
	country_code    text        NOT NULL
);
CREATE INDEX sessions_user_last_seen ON {schema}.sessions (user_id, last_seen_at DESC, created_at DESC);
CREATE INDEX sessions_expires_at ON {schema}.sessions (expires_at);

CREATE TABLE {schema}.totp_credentials (
	user_id      text        PRIMARY KEY,
	secret       bytea       NOT NULL,
	key_id       text        NOT NULL,
	confirmed    boolean     NOT NULL,
	created_at   timestamptz NOT NULL,
	confirmed_at timestamptz,
	last_step    bigint      NOT NULL
);

CREATE TABLE {schema}.recovery_codes (
	user_id   text  NOT NULL,
	code_hash bytea NOT NULL CHECK (octet_length(code_hash) = 32),
	PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE {schema}.attempt_throttles (
	user_id      text        PRIMARY KEY,
	failures     integer     NOT NULL,
	locked_until timestamptz
);

CREATE TABLE {schema}.app_grants (
	id           text        PRIMARY KEY,
	user_id      text        NOT NULL,
	app_name     text        NOT NULL,
	scopes       text[]      NOT NULL,
	token_hash   bytea       NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
	created_at   timestamptz NOT NULL,
	last_used_at timestamptz
);
CREATE INDEX app_grants_user_created ON {schema}.app_grants (user_id, created_at DESC);

CREATE TABLE {schema}.security_events (
	id             bigserial   PRIMARY KEY,
	user_id        text        NOT NULL,
	type           text        NOT NULL,
	at             timestamptz NOT NULL,
	session_handle text        NOT NULL,
	ip             text        NOT NULL,
	device         text        NOT NULL,
	location       text        NOT NULL,
	detail         text        NOT NULL
);
CREATE INDEX security_events_user_id ON {schema}.security_events (user_id, id DESC);
CREATE INDEX security_events_at ON {schema}.security_events (at);
`

// schemaV2 is migration 2: the revocation feed, an append-only log of the
// notices, which subscribers read by cursor when LISTEN is unavailable.
// xid is the inserting transaction: a reader returns the rows committed
// between two of its snapshots, whatever order their ids were assigned in.
const schemaV2 = `
CREATE TABLE {schema}.revocation_feed (
	id      bigserial   PRIMARY KEY,
	xid     xid8        NOT NULL DEFAULT pg_current_xact_id(),
	at      timestamptz NOT NULL DEFAULT now(),
	payload text        NOT NULL
);
CREATE INDEX revocation_feed_xid ON {schema}.revocation_feed (xid);
CREATE INDEX revocation_feed_at ON {schema}.revocation_feed (at);
`

// schemaEventActor is migration 6: who acted on a user's account when it was not
// the user (storage.Event.Actor). Rows from before it get an empty actor.
const schemaEventActor = `
ALTER TABLE {schema}.security_events ADD COLUMN actor text NOT NULL DEFAULT '';
`

// schemaThrottleExpiry is migration 7: each throttle row's expiry
// (storage.AttemptPolicy.ExpiresAt; NULL is never), indexed for the sweep.
// Rows from before it keep NULL: they may be permanent locks, whose policy
// the migration cannot know, and they are a fixed, finite set.
const schemaThrottleExpiry = `
ALTER TABLE {schema}.attempt_throttles ADD COLUMN expires_at timestamptz;
CREATE INDEX attempt_throttles_expires_at ON {schema}.attempt_throttles (expires_at) WHERE expires_at IS NOT NULL;
`

// migrations returns the schema migrations in order: version i+1 is
// element i. Never edit a released migration: append a new one. A newer
// deployment may have applied versions this code does not know; they must
// stay compatible with it (rolling upgrades), so they are left alone.
func migrations() []string {
	return []string{schemaV1, schemaV2, schemaBindings, schemaTrustedBrowsers, schemaPasskeys, schemaEventActor, schemaThrottleExpiry}
}

// migrate brings the tables up to date in schema (empty: the first schema
// in the search_path); q resolves the {schema}. prefix of statements. The
// advisory lock, held until the transaction ends, serializes
// concurrent starts of many instances on the same schema; the second one
// finds the work done.
func migrate(ctx context.Context, pool *pgxpool.Pool, schema string, q func(string) string) error {
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx,
			`SELECT pg_advisory_xact_lock(hashtextextended('sessionguard schema ' || coalesce(nullif($1::text, ''), current_schema(), ''), 0))`,
			schema,
		); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, q(`CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (
	version    integer     PRIMARY KEY,
	applied_at timestamptz NOT NULL DEFAULT now()
)`)); err != nil {
			return err
		}
		var current int
		if err := tx.QueryRow(ctx, q(`SELECT coalesce(max(version), 0) FROM {schema}.schema_migrations`)).Scan(&current); err != nil {
			return err
		}
		all := migrations()
		for v := current + 1; v <= len(all); v++ {
			if _, err := tx.Exec(ctx, q(all[v-1])); err != nil {
				return fmt.Errorf("version %d: %w", v, err)
			}
			if _, err := tx.Exec(ctx, q(`INSERT INTO {schema}.schema_migrations (version) VALUES ($1)`), v); err != nil {
				return fmt.Errorf("version %d: %w", v, err)
			}
		}
		return nil
	})
	return wrap(ctx, "migrate", err)
}
