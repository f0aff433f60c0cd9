// Package sqlite is a persistent, embedded storage backend for sessionguard,
// built on modernc.org/sqlite (pure Go: no cgo, no server to run).
//
// # When to use it
//
// Use it when the application runs on a single machine and sessions,
// second factors and the security log must survive a restart: it is the
// default of the example application. Several processes on the same machine
// (a zero-downtime restart, a worker next to the web server) may open the
// same file at once. Instances on different machines need a network
// backend (postgres or redis); do not put the file on a network file
// system, where SQLite's locking is unreliable.
//
// # Revocation bounds
//
// Every revocation (RevokeSession, RevokeUserSessions, RotateSession,
// RevokeAppGrant, RevokeUserAppGrants) reaches subscribers of the same
// [Store] immediately: they are called from the revoking goroutine right
// after the transaction commits, before the method returns. Other
// processes, or other Stores opened on the same file, learn of it within
// [Options.PollInterval] (250 ms by default): each revocation also appends a
// row to a log table in the same transaction, and every Store polls that
// log. If polling fails, subscribers receive storage.Revocation{Reset: true}
// at once and again when polling works again.
//
// # Storage
//
// The database runs in WAL mode (readers never block the writer) with
// foreign keys on and a busy timeout of [Options.BusyTimeout]; every write
// that reads before it writes runs in a BEGIN IMMEDIATE transaction, so
// concurrent writers queue instead of failing with SQLITE_BUSY. Commits are
// durable (synchronous=FULL): a revocation that returned survives a power
// loss. Each write costs an fsync, a few milliseconds on ordinary disks,
// which is why the session Manager writes activity at most once per touch
// interval rather than on every request; reads cost no fsync. Times are
// stored as Unix nanoseconds and round-trip exactly between the years 1678
// and 2262; the zero time stays zero and other times are clamped to that
// range. The schema is versioned with
// PRAGMA user_version and migrated on [Open]. Expired sessions and old
// revocation-log rows are removed every [Options.SweepInterval]; events are
// kept until [Store.DeleteEventsBefore] removes them.
//
// Session and app tokens and recovery codes are stored as SHA-256 hashes
// and TOTP secrets encrypted by the caller, so the file holds no usable
// credential; still, it holds personal data. [Open] creates a new file
// readable and writable by its owner only; keep an existing one so too.
package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/internal/fanout"
)

// Defaults of [Options].
const (
	DefaultSweepInterval = time.Minute
	DefaultPollInterval  = 250 * time.Millisecond
	DefaultBusyTimeout   = 5 * time.Second
)

// revocationRetention is the minimum age of a revocation-log row before the
// sweep removes it. A Store that falls further behind than this notices the
// gap and tells its subscribers to reset.
const revocationRetention = 10 * time.Minute

// Options configures a [Store]. The zero value is ready to use.
type Options struct {
	// SweepInterval is how often expired sessions and revocation-log rows
	// older than ten minutes (or ten PollIntervals, whichever is longer)
	// are removed in the background. The default is one minute; negative
	// is an error. The sweep stops on [Store.Close].
	SweepInterval time.Duration

	// PollInterval is how often the Store reads the revocation log to
	// learn of revocations committed by other processes (or other Stores
	// on the same file): it bounds how late their notices arrive. The
	// default is 250 milliseconds; negative is an error. Revocations made
	// through this Store are delivered to its own subscribers at once,
	// whatever the interval.
	PollInterval time.Duration

	// Now returns the current time for the background sweep, for
	// GetThrottle's expiry check and for the timestamps of revocation-log
	// rows. The default is time.Now.
	Now func() time.Time

	// BusyTimeout is how long an operation waits for a lock held by
	// another connection or process before it fails (SQLite's
	// busy_timeout). The default is 5 seconds; negative is an error.
	BusyTimeout time.Duration
}

// Store is a [storage.Store] kept in a SQLite database file. Create it with
// [Open] and release it with [Store.Close]. It is safe for concurrent use,
// and several Stores (in one or several processes) may share one file.
type Store struct {
	w *sql.DB // one connection: the writer, so writers queue in Go
	r *sql.DB // a few query-only connections for reads

	// Statements prepared once on r: the hot paths (a cache miss of the
	// session Manager, an app-token check) and the poller.
	getSessionStmt *sql.Stmt
	getGrantStmt   *sql.Stmt
	readLogStmt    *sql.Stmt

	now       func() time.Time
	poll      time.Duration
	sweep     time.Duration
	retention time.Duration

	// origin tags the revocation-log rows this Store writes, so that its
	// poller skips what was already delivered in-process.
	origin []byte

	subs fanout.Set // closed by Close

	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

var _ storage.Store = (*Store)(nil)

// Open opens (creating it if needed) the SQLite database at path, a file
// system path, applies the schema migrations it lacks, and starts the
// background sweep and the revocation-log poller. Call [Store.Close] to stop
// them. Opening the same file from several goroutines or processes at once
// is safe: migrations run in one write-locked (immediate) transaction, so
// each runs once and every opener sees the finished schema.
//
// ctx bounds the opening and the migrations only.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if opts.SweepInterval < 0 || opts.PollInterval < 0 || opts.BusyTimeout < 0 {
		return nil, errors.New("storage/sqlite: negative interval or timeout in Options")
	}
	if opts.SweepInterval == 0 {
		opts.SweepInterval = DefaultSweepInterval
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.BusyTimeout == 0 {
		opts.BusyTimeout = DefaultBusyTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, errors.New("storage/sqlite: path must name a database file (use storage/memory for an in-memory store)")
	}

	if err := createPrivate(path); err != nil {
		return nil, err
	}

	origin := make([]byte, 16)
	rand.Read(origin) // never fails (crypto/rand documents it)

	s := &Store{
		now:       opts.Now,
		poll:      opts.PollInterval,
		sweep:     opts.SweepInterval,
		retention: max(revocationRetention, 10*opts.PollInterval),
		origin:    origin,
	}
	var err error
	if s.w, err = openDB(path, opts.BusyTimeout, false); err != nil {
		return nil, err
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxIdleTime(0)
	s.w.SetConnMaxLifetime(0)
	if err := migrate(ctx, s.w); err != nil {
		s.w.Close()
		return nil, err
	}
	if s.r, err = openDB(path, opts.BusyTimeout, true); err != nil {
		s.w.Close()
		return nil, err
	}
	n := max(4, runtime.GOMAXPROCS(0))
	s.r.SetMaxOpenConns(n)
	s.r.SetMaxIdleConns(n)
	last, err := s.prepare(ctx)
	if err != nil {
		s.closeDBs()
		return nil, err
	}

	bg, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.wg.Add(2)
	go s.sweepLoop(bg)
	go s.pollLoop(bg, last)
	return s, nil
}

// createPrivate creates an empty file at path, readable and writable by
// its owner only, unless a file exists there already (whose permissions
// are the operator's choice). SQLite gives the -wal and -shm files the
// permissions of the database file; left to SQLite, the database would be
// created with the umask's default, usually readable by everyone, and it
// holds the security log, IP addresses and encrypted TOTP secrets.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("storage/sqlite: open: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("storage/sqlite: open: %w", err)
	}
	return nil
}

// openDB returns a pool on the file at path whose every connection gets
// the pragmas, through the DSN.
func openDB(path string, busy time.Duration, queryOnly bool) (*sql.DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("storage/sqlite: open: %w", err)
	}
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // Windows: file:///C:/...
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	// FULL (the SQLite default, spelled out): a revocation that returned
	// is on disk, even after a power loss.
	q.Add("_pragma", "synchronous(FULL)")
	// Transactions take the write lock at BEGIN: a transaction that reads
	// and then writes can never fail to upgrade its lock.
	q.Set("_txlock", "immediate")
	if queryOnly {
		q.Set("_query_only", "1")
	}
	u := url.URL{Scheme: "file", Path: p, RawQuery: q.Encode()}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, fmt.Errorf("storage/sqlite: open: %w", err)
	}
	return db, nil
}

// prepare prepares the statements of s and returns the poller's starting
// position in the revocation log.
func (s *Store) prepare(ctx context.Context) (last int64, err error) {
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&s.getSessionStmt, `SELECT ` + sessionColumns + ` FROM sessions WHERE token_hash = ?`},
		{&s.getGrantStmt, `SELECT ` + grantColumns + ` FROM app_grants WHERE token_hash = ?`},
		{&s.readLogStmt, `SELECT id, origin, user_id, token_hash, created_at FROM revocations WHERE id > ? ORDER BY id`},
	} {
		if *p.stmt, err = s.r.PrepareContext(ctx, p.sql); err != nil {
			return 0, wrap(ctx, "prepare", err)
		}
	}
	return s.lastRevocationID(ctx)
}

// closeDBs closes the prepared statements and both pools.
func (s *Store) closeDBs() error {
	var errs []error
	for _, st := range []*sql.Stmt{s.getSessionStmt, s.getGrantStmt, s.readLogStmt} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	errs = append(errs, s.r.Close(), s.w.Close())
	return errors.Join(errs...)
}

// Close stops the background sweep and poller, waits for them to return,
// and closes the database. It is idempotent. Other methods fail after
// Close; subscribers receive nothing more.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.subs.Close()
		s.cancel()
		s.wg.Wait()
		if err := s.closeDBs(); err != nil {
			s.closeErr = fmt.Errorf("storage/sqlite: close: %w", err)
		}
	})
	return s.closeErr
}

// sweepLoop removes expired sessions, expired throttle records and old
// revocation-log rows every
// s.sweep until ctx is done.
func (s *Store) sweepLoop(ctx context.Context) {
	defer s.wg.Done()
	t := time.NewTicker(s.sweep)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			// A failed sweep is retried at the next tick; nothing is lost
			// meanwhile (expired sessions are rejected by their expiry).
			_ = s.sweepOnce(ctx)
		}
	}
}

// sweepOnce runs one sweep at s.now().
func (s *Store) sweepOnce(ctx context.Context) error {
	now := s.now()
	_, err1 := s.DeleteExpiredSessions(ctx, now)
	_, err2 := s.w.ExecContext(ctx, `DELETE FROM revocations WHERE created_at < ?`,
		encodeTime(now.Add(-s.retention)))
	_, err3 := s.DeleteExpiredThrottles(ctx, now)
	return errors.Join(err1, wrap(ctx, "sweep revocation log", err2), err3)
}

// write runs fn in one immediate transaction on the writer connection and
// commits it.
func (s *Store) write(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return wrap(ctx, op, err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return wrap(ctx, op, err)
	}
	return nil
}

// revoke runs fn, which deletes what it revokes and returns the notice,
// in one immediate transaction that also appends the notice to the
// revocation log for the pollers of other Stores. After the commit the
// notice goes to this Store's subscribers, and also after a failed commit,
// whose outcome is unknown: an extra notice only empties caches, a missing
// one would leave a revoked session trusted.
func (s *Store) revoke(ctx context.Context, op string, fn func(tx *sql.Tx) (storage.Revocation, error)) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return wrap(ctx, op, err)
	}
	r, err := fn(tx)
	if err == nil {
		var h any // NULL: all of the user's sessions and grants
		if !r.TokenHash.IsZero() {
			h = hashArg(r.TokenHash)
		}
		r.CommittedAt = s.now()
		_, err = tx.ExecContext(ctx,
			`INSERT INTO revocations (origin, user_id, token_hash, created_at) VALUES (?, ?, ?, ?)`,
			s.origin, r.UserID, h, encodeTime(r.CommittedAt))
		err = wrap(ctx, op+": log revocation", err)
	}
	if err != nil {
		tx.Rollback()
		return err
	}
	err = tx.Commit()
	s.deliver(r)
	return wrap(ctx, op, err)
}

// wrap adds the package prefix and op to err, maps SQLite's uniqueness
// errors to storage.ErrConflict and makes sure an error caused by a done
// ctx wraps ctx.Err(). It returns nil for a nil err.
func wrap(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	var se *msqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("storage/sqlite: %s: %w", op, storage.ErrConflict)
		}
	}
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("storage/sqlite: %s: %w: %w", op, cerr, err)
	}
	return fmt.Errorf("storage/sqlite: %s: %w", op, err)
}

// Times are stored as Unix nanoseconds. The zero time is stored as
// math.MinInt64 so that it sorts first and compares as the earliest
// instant, like time.Time{} does; other instants outside the int64 range
// (before 1678 or after 2262) are clamped to it.
const zeroTime = math.MinInt64

var (
	minNanoTime = time.Unix(0, math.MinInt64+1)
	maxNanoTime = time.Unix(0, math.MaxInt64)
)

// encodeTime returns t as stored.
func encodeTime(t time.Time) int64 {
	switch {
	case t.IsZero():
		return zeroTime
	case t.Before(minNanoTime):
		return math.MinInt64 + 1
	case t.After(maxNanoTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// decodeTime is the inverse of encodeTime.
func decodeTime(n int64) time.Time {
	if n == zeroTime {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// hashArg returns h as a query argument.
func hashArg(h storage.TokenHash) []byte { return h[:] }

// scanHash copies a stored hash into h.
func scanHash(b []byte, h *storage.TokenHash) error {
	if len(b) != len(h) {
		return fmt.Errorf("storage/sqlite: stored hash has %d bytes, want %d", len(b), len(h))
	}
	copy(h[:], b)
	return nil
}
