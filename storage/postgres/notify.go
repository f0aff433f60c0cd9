package postgres

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/internal/fanout"
)

// Notice payloads are "t<unix µs>:<hex token hash>:<user id>" for one
// session or grant and "t<unix µs>::<user id>" for all of a user's sessions
// or grants. The time is clock_timestamp() in the committing statement
// (Revocation.CommittedAt, for measuring how long notices take); the
// fixed-width hash comes before the user ID because user IDs may contain
// any character, colons included. A user ID too long for a payload
// (PostgreSQL payloads must be shorter than 8000 bytes) is sent as
// resetPayload, which subscribers receive as Revocation{Reset: true}:
// wider than needed, never narrower.
//
// Earlier versions sent the same payloads without the "t<unix µs>:"
// prefix; decodePayload still reads those (rolling upgrades, feed entries
// written before the upgrade), and an earlier version reads a prefixed
// payload as a Reset (its first colon is not where a token hash ends).
const (
	maxPayload = 7999
	// maxStamp is the longest time prefix: "t", an int64's 19 digits, ":".
	maxStamp         = 1 + 19 + 1
	maxPayloadUserID = maxPayload - maxStamp - 2*sha256.Size - 1
	resetPayload     = "*"
)

// encodePayload returns the notice payload for h (zero: all of userID's
// sessions or grants) and userID, without the time prefix, which the
// statement that commits the revocation adds (sqlStamp).
func encodePayload(h storage.TokenHash, userID string) string {
	if len(userID) > maxPayloadUserID {
		return resetPayload
	}
	if h.IsZero() {
		return ":" + userID
	}
	return h.String() + ":" + userID
}

// sqlNowMicros is the statement's clock (not the transaction's start) in
// unix microseconds, as text.
const sqlNowMicros = `(extract(epoch FROM clock_timestamp()) * 1000000)::bigint::text`

// sqlStamp is an SQL expression that prefixes the payload expression p
// (from encodePayload) with the time, unless it is resetPayload.
func sqlStamp(p string) string {
	return fmt.Sprintf(`CASE WHEN %[1]s = '%[2]s' THEN '%[2]s' ELSE 't' || %[3]s || ':' || %[1]s END`,
		p, resetPayload, sqlNowMicros)
}

// sqlPayload is encodePayload with its time prefix as an SQL expression
// over a bytea token hash column and a text user ID column of the row
// being deleted.
func sqlPayload(hashColumn, userColumn string) string {
	return fmt.Sprintf(`CASE WHEN octet_length(%[2]s) <= %[3]d THEN 't' || %[5]s || ':' || encode(%[1]s, 'hex') || ':' || %[2]s ELSE '%[4]s' END`,
		hashColumn, userColumn, maxPayloadUserID, resetPayload, sqlNowMicros)
}

// decodePayload parses a notice payload. Anything it does not understand
// (a foreign NOTIFY on the channel, a future format) becomes a Reset: an
// unknown notice must never leave a cache trusted.
func decodePayload(p string) storage.Revocation {
	var at time.Time
	if rest, ok := strings.CutPrefix(p, "t"); ok {
		us, body, ok := strings.Cut(rest, ":")
		n, valid := parseMicros(us)
		if !ok || !valid {
			return storage.Revocation{Reset: true}
		}
		at, p = time.UnixMicro(n), body
	}
	i := strings.IndexByte(p, ':')
	switch i {
	case 0:
		return storage.Revocation{UserID: p[1:], CommittedAt: at}
	case 2 * sha256.Size:
		h, err := storage.ParseTokenHash(p[:i])
		if err != nil {
			return storage.Revocation{Reset: true}
		}
		return storage.Revocation{UserID: p[i+1:], TokenHash: h, CommittedAt: at}
	default:
		return storage.Revocation{Reset: true}
	}
}

// parseMicros parses a positive decimal number of microseconds written as
// sqlNowMicros writes it: digits only, no leading zero.
func parseMicros(s string) (int64, bool) {
	if s == "" || s[0] < '1' || s[0] > '9' {
		return 0, false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// Subscribe calls fn for every revocation committed through any Store on
// the same database and channel after Subscribe returns, this one's
// included. fn is called from the notifier's goroutines, one notice at a
// time per goroutine, in the order PostgreSQL delivered them; it must not
// block.
//
// When delivery may have missed a notice (the listener's connection is
// lost, its test notice does not arrive, a feed read fails), fn receives
// Revocation{Reset: true} at once, and again once delivery is restored, by
// LISTEN or by the revocation feed. cancel stops delivery (a call already
// under way may finish) and is safe to call more than once, also from fn.
// Subscribe fails after [Store.Close].
func (s *Store) Subscribe(fn func(storage.Revocation)) (cancel func(), err error) {
	if fn == nil {
		return nil, errors.New("storage/postgres: subscribe: nil func")
	}
	return s.notifier.subscribe(fn)
}

// NotifyBound returns the longest time between the commit of a revocation
// and its delivery, or a Reset's, to every subscriber: two
// [Options.ListenerPingInterval]s with LISTEN (the listener's test notice
// is sent every interval and must arrive within the next one; 20 seconds
// by default), or two [Options.FeedInterval]s with [Options.FeedOnly] (2
// seconds by default); more precisely two of the longer of the two
// intervals, since LISTEN falls back to the feed. A session.Manager adopts
// it as its default RevocationTTL.
func (s *Store) NotifyBound() time.Duration { return s.notifier.bound() }

// OnDeliveryError registers fn, called from a background goroutine each
// time the notifier loses delivery: the listener's connection fails or its
// test notice does not arrive, or a read of the revocation feed fails while
// the feed is in use. Subscribers receive a Reset at the same time. Repeated
// failures are reported once, until delivery is restored; every failure
// also goes to [Options.OnError]. cancel is safe to call more than once.
func (s *Store) OnDeliveryError(fn func(error)) (cancel func()) {
	return s.notifier.watch(fn)
}

// ErrNoTestNotice reports that the listener did not receive its test
// notice, sent through the pool, within [Options.ListenerPingInterval]:
// its LISTEN does not hear this database's notices, as when it goes
// through a transaction pooler, or its connection died silently.
var ErrNoTestNotice = errors.New("storage/postgres: listener: test notice not received")

// Test notices carry probePrefix and a random nonce; every listener on the
// channel ignores the others' (a revocation payload never starts with it).
const probePrefix = "?"

func isProbe(payload string) bool { return strings.HasPrefix(payload, probePrefix) }

// sqlProbe sends a test notice; it goes through the pool, the path that
// revocations take.
const sqlProbe = `SELECT pg_notify($1::text, $2::text)`

// sqlSnapshot starts a read of the revocation feed.
const sqlSnapshot = `SELECT pg_current_snapshot()::text`

// sqlReadFeed returns the entries committed after the snapshot $1 and up
// to the statement's own snapshot, which it returns to start the next
// read. Entries are matched by transaction, not by id: ids are taken
// before commit, so a lower id can commit after a higher one.
const sqlReadFeed = `SELECT pg_current_snapshot()::text, array_agg(payload ORDER BY id), array_agg(at ORDER BY id)
FROM {schema}.revocation_feed
WHERE xid >= pg_snapshot_xmin($1::text::pg_snapshot) AND NOT pg_visible_in_snapshot(xid, $1::text::pg_snapshot)`

// sqlPruneFeed deletes entries older than $1 seconds.
const sqlPruneFeed = `DELETE FROM {schema}.revocation_feed WHERE at < now() - $1::float8 * interval '1 second'`

// pruneFeed deletes the feed entries older than the retention.
func (s *Store) pruneFeed(ctx context.Context) error {
	_, err := s.pool.Exec(ctx, s.q(sqlPruneFeed), s.retention.Seconds())
	return wrap(ctx, "prune revocation feed", err)
}

// notifier delivers revocations to the subscribers: by LISTEN on a
// dedicated connection, proven by test notices, and by the revocation feed
// while LISTEN fails or, with FeedOnly, always.
type notifier struct {
	s            *Store
	listenConfig *pgx.ConnConfig // nil: feed only
	listen       string          // the LISTEN statement
	unlisten     string          // its UNLISTEN
	ping         time.Duration
	feedEvery    time.Duration

	subs fanout.Set // closed by close

	watchMu  sync.Mutex
	watchers map[*func(error)]struct{}

	// healthy is owned by the goroutine that delivers: whether delivery
	// works (failures are reported to watchers on the transition only).
	healthy bool
}

func newNotifier(s *Store, listenConfig *pgx.ConnConfig, ping, feedEvery time.Duration) *notifier {
	return &notifier{
		s:            s,
		listenConfig: listenConfig,
		listen:       "LISTEN " + pgx.Identifier{s.channel}.Sanitize(),
		unlisten:     "UNLISTEN " + pgx.Identifier{s.channel}.Sanitize(),
		ping:         ping,
		feedEvery:    feedEvery,
		watchers:     map[*func(error)]struct{}{},
	}
}

func (n *notifier) bound() time.Duration {
	if n.listenConfig == nil {
		return 2 * n.feedEvery
	}
	return 2 * max(n.ping, n.feedEvery)
}

func (n *notifier) subscribe(fn func(storage.Revocation)) (func(), error) {
	cancel, ok := n.subs.Add(fn)
	if !ok {
		return nil, errors.New("storage/postgres: subscribe: store closed")
	}
	return cancel, nil
}

func (n *notifier) watch(fn func(error)) func() {
	if fn == nil {
		return func() {}
	}
	key := &fn
	n.watchMu.Lock()
	n.watchers[key] = struct{}{}
	n.watchMu.Unlock()
	return func() {
		n.watchMu.Lock()
		delete(n.watchers, key)
		n.watchMu.Unlock()
	}
}

func (n *notifier) deliver(r storage.Revocation) { n.subs.Deliver(r) }

// fail reports that delivery failed: subscribers get a Reset, OnError the
// error, and the watchers too if delivery worked until now.
func (n *notifier) fail(err error) {
	n.deliver(storage.Revocation{Reset: true})
	n.s.onError(err)
	if !n.healthy {
		return
	}
	n.healthy = false
	n.watchMu.Lock()
	fns := make([]func(error), 0, len(n.watchers))
	for fn := range n.watchers {
		fns = append(fns, *fn)
	}
	n.watchMu.Unlock()
	for _, fn := range fns {
		fn(err) // outside the lock: fn may cancel its registration
	}
}

// restored reports that delivery works again: anything may have been
// missed since the failure, so subscribers get a Reset.
func (n *notifier) restored() {
	n.healthy = true
	n.deliver(storage.Revocation{Reset: true})
}

// start proves delivery with ctx, the caller's context, so that
// Subscribe's guarantee holds as soon as New returns; then it delivers in
// the background until bg is cancelled.
func (n *notifier) start(ctx, bg context.Context, wg *sync.WaitGroup) error {
	n.healthy = true
	if n.listenConfig == nil {
		snap, _, err := n.readFeed(ctx, "")
		if err != nil {
			return wrap(ctx, "revocation feed", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.pollFeed(bg, snap, false)
		}()
		return nil
	}
	conn, err := n.establish(ctx)
	if errors.Is(err, ErrNoTestNotice) {
		return err
	}
	if err != nil {
		return wrap(ctx, "listen", err)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		n.run(bg, conn)
	}()
	return nil
}

// close cancels every subscription and makes later subscribe calls fail.
func (n *notifier) close() { n.subs.Close() }

// establish connects the listener, LISTENs, and proves with a test notice
// sent through the pool that LISTEN hears what the pool's statements
// notify.
func (n *notifier) establish(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, n.listenConfig)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	// One simple query, so one transaction: through a transaction pooler,
	// the backend that reports its pid is the one that LISTENed.
	pid, err := n.execReportingPID(ctx, conn, n.listen)
	if err != nil {
		closeConn(conn)
		return nil, err
	}
	if err := n.prove(ctx, conn); err != nil {
		n.takeBack(conn, pid)
		closeConn(conn)
		return nil, err
	}
	return conn, nil
}

// execReportingPID runs stmt and returns the pid of the backend that ran
// it.
func (n *notifier) execReportingPID(ctx context.Context, conn *pgx.Conn, stmt string) (string, error) {
	results, err := conn.PgConn().Exec(ctx, stmt+"; SELECT pg_backend_pid()").ReadAll()
	if err != nil {
		return "", err
	}
	if len(results) != 2 || len(results[1].Rows) != 1 || len(results[1].Rows[0]) != 1 {
		return "", errors.New("unexpected answer to SELECT pg_backend_pid()")
	}
	return string(results[1].Rows[0][0]), nil
}

// takeBack UNLISTENs on the backend pid, which LISTENed for a connection
// whose test notice did not arrive. Through a transaction pooler that
// backend now serves other clients: the pooler hands the connection's next
// statement to a backend of its choice (most often the one released last),
// so it tries a few times.
func (n *notifier) takeBack(conn *pgx.Conn, pid string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for range 8 {
		got, err := n.execReportingPID(ctx, conn, n.unlisten)
		if err != nil || got == pid {
			return
		}
	}
}

// prove sends a test notice through the pool and waits, at most one ping
// interval, for it on conn. Revocations received meanwhile are delivered.
func (n *notifier) prove(ctx context.Context, conn *pgx.Conn) error {
	probe := newProbe()
	pctx, cancel := context.WithTimeout(ctx, n.ping)
	defer cancel()
	if err := n.sendProbe(pctx, probe); err != nil {
		return err
	}
	for {
		note, err := conn.WaitForNotification(pctx)
		if err != nil {
			if pctx.Err() != nil && ctx.Err() == nil && !conn.IsClosed() {
				return n.errNoTestNotice()
			}
			return err
		}
		switch {
		case note.Channel != n.s.channel:
		case note.Payload == probe:
			return nil
		case isProbe(note.Payload):
		default:
			n.deliver(decodePayload(note.Payload))
		}
	}
}

func (n *notifier) errNoTestNotice() error {
	return fmt.Errorf("%w within %v: LISTEN does not hear what the pool notifies "+
		"(behind a transaction pooler, set Options.ListenURL to a direct connection, or use Options.FeedOnly)",
		ErrNoTestNotice, n.ping)
}

func newProbe() string { return probePrefix + rand.Text() }

func (n *notifier) sendProbe(ctx context.Context, probe string) error {
	if _, err := n.s.pool.Exec(ctx, sqlProbe, n.s.channel, probe); err != nil {
		return fmt.Errorf("sending the test notice: %w", err)
	}
	return nil
}

// closeConn closes conn, giving a live server a moment to hear goodbye.
func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}

// Reconnection backoff: the first retry is immediate, then the delay
// doubles from minBackoff up to maxBackoff.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// run delivers by LISTEN on conn and, whenever it fails, by the feed until
// LISTEN is proven again.
func (n *notifier) run(ctx context.Context, conn *pgx.Conn) {
	for {
		err := n.receive(ctx, conn)
		closeConn(conn)
		if ctx.Err() != nil {
			return
		}
		n.fail(fmt.Errorf("storage/postgres: listener: %w", err))
		if conn = n.recover(ctx); conn == nil {
			return
		}
	}
}

// receive delivers notices until the connection fails, a test notice does
// not arrive within a ping interval, or ctx is done. A test notice is sent
// through the pool every ping interval, whatever else arrives: other
// instances' notices do not prove that this one's path works.
func (n *notifier) receive(ctx context.Context, conn *pgx.Conn) error {
	var probe string // the test notice awaited, if any
	wake := time.Now().Add(n.ping)
	for {
		wctx, cancel := context.WithDeadline(ctx, wake)
		note, err := conn.WaitForNotification(wctx)
		timedOut := wctx.Err() != nil
		cancel()
		switch {
		case err == nil:
			switch {
			case note.Channel != n.s.channel:
			case isProbe(note.Payload):
				if note.Payload == probe {
					probe = ""
				}
			default:
				n.deliver(decodePayload(note.Payload))
			}
			continue
		case ctx.Err() != nil:
			return ctx.Err()
		case !timedOut || conn.IsClosed():
			return err
		}
		if probe != "" {
			return n.errNoTestNotice()
		}
		probe = newProbe()
		wake = time.Now().Add(n.ping)
		sctx, cancel := context.WithDeadline(ctx, wake)
		err = n.sendProbe(sctx, probe)
		cancel()
		if err != nil {
			return err
		}
	}
}

// recover restores delivery after LISTEN failed: one quick attempt to
// LISTEN again, else the feed until a LISTEN connection is proven. It
// returns that connection, or nil once ctx is done.
func (n *notifier) recover(ctx context.Context) *pgx.Conn {
	actx, cancel := context.WithTimeout(ctx, n.feedEvery)
	conn, err := n.establish(actx)
	cancel()
	if err == nil {
		n.restored()
		return conn
	}
	if ctx.Err() != nil {
		return nil
	}
	n.s.onError(fmt.Errorf("storage/postgres: listener reconnect: %w", err))
	return n.pollFeed(ctx, "", true)
}

// pollFeed delivers the revocation feed every feed interval, starting after
// snapshot snap (empty: a new snapshot, then a Reset). With relisten, it
// tries to LISTEN again meanwhile and returns the proven connection,
// after one more read of the feed: LISTEN was active before its test
// notice, so the two overlap and nothing falls between them. It returns
// nil once ctx is done.
func (n *notifier) pollFeed(ctx context.Context, snap string, relisten bool) *pgx.Conn {
	var listening chan *pgx.Conn
	if relisten {
		rctx, cancel := context.WithCancel(ctx)
		listening = make(chan *pgx.Conn, 1)
		go func() { listening <- n.relisten(rctx) }()
		defer func() {
			cancel()
			if conn := <-listening; conn != nil {
				closeConn(conn)
			}
		}()
	}
	t := time.NewTicker(n.feedEvery)
	defer t.Stop()
	taken := time.Now()
	for {
		if snap == "" {
			snap, taken = n.startFeed(ctx), time.Now()
		}
		select {
		case <-ctx.Done():
			return nil
		case conn := <-listening:
			listening <- nil // for the deferred drain
			if conn == nil {
				return nil
			}
			// LISTEN was active before its test notice: one more read
			// covers everything committed before that.
			if snap == "" {
				n.restored()
			} else if _, _, ok := n.readAndDeliver(ctx, snap, taken); !ok {
				n.restored()
			}
			n.healthy = true
			return conn
		case <-t.C:
		}
		if snap != "" {
			snap, taken, _ = n.readAndDeliver(ctx, snap, taken)
		}
	}
}

// startFeed takes the snapshot that the next read starts from and sends
// subscribers a Reset: whatever committed before it is not delivered. It
// returns "" if it failed.
func (n *notifier) startFeed(ctx context.Context) string {
	rctx, cancel := context.WithTimeout(ctx, n.feedEvery)
	snap, _, err := n.readFeed(rctx, "")
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			n.fail(fmt.Errorf("storage/postgres: revocation feed: %w", err))
		}
		return ""
	}
	n.restored()
	return snap
}

// readAndDeliver delivers the feed entries committed since snap and returns
// the snapshot to read from next. If the read fails, subscribers get a
// Reset and the next read starts from snap again, so that nothing is
// skipped; once snap is half the retention old it returns "" (start anew)
// lest the entries it needs be pruned.
func (n *notifier) readAndDeliver(ctx context.Context, snap string, taken time.Time) (next string, nextTaken time.Time, ok bool) {
	rctx, cancel := context.WithTimeout(ctx, n.feedEvery)
	now := time.Now()
	next, entries, err := n.readFeed(rctx, snap)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			n.fail(fmt.Errorf("storage/postgres: revocation feed: %w", err))
		}
		if time.Since(taken) > n.s.retention/2 {
			return "", time.Time{}, false
		}
		return snap, taken, false
	}
	n.healthy = true
	for _, e := range entries {
		n.deliver(e)
	}
	return next, now, true
}

// readFeed returns the feed entries committed after snap and the snapshot
// to read from next; with snap empty, only the snapshot. An entry whose
// payload has no time (written by an earlier version) is given the time
// of its row.
func (n *notifier) readFeed(ctx context.Context, snap string) (next string, entries []storage.Revocation, err error) {
	if snap == "" {
		err = n.s.pool.QueryRow(ctx, sqlSnapshot).Scan(&next)
		return next, nil, err
	}
	var (
		payloads []string
		ats      []time.Time
	)
	if err = n.s.pool.QueryRow(ctx, n.s.q(sqlReadFeed), snap).Scan(&next, &payloads, &ats); err != nil {
		return "", nil, err
	}
	entries = make([]storage.Revocation, len(payloads))
	for i, p := range payloads {
		entries[i] = decodePayload(p)
		if !entries[i].Reset && entries[i].CommittedAt.IsZero() && i < len(ats) {
			entries[i].CommittedAt = ats[i]
		}
	}
	return next, entries, nil
}

// relisten retries establish with a bounded backoff, each attempt bounded
// by the ping interval, until it succeeds or ctx is done (nil).
func (n *notifier) relisten(ctx context.Context) *pgx.Conn {
	delay := minBackoff
	for {
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		actx, cancel := context.WithTimeout(ctx, n.ping)
		conn, err := n.establish(actx)
		cancel()
		if err == nil {
			return conn
		}
		if ctx.Err() != nil {
			return nil
		}
		n.s.onError(fmt.Errorf("storage/postgres: listener reconnect: %w", err))
		delay = min(2*delay, maxBackoff)
	}
}
