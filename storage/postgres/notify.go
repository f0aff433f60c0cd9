package postgres

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/internal/fanout"
)

// Notice payloads are "<hex token hash>:<user id>" for one session or grant
// and ":<user id>" for all of a user's sessions or grants: the fixed-width
// part comes first because user IDs may contain any character, colons
// included. A user ID too long for a payload (PostgreSQL payloads must be
// shorter than 8000 bytes) is sent as resetPayload, which subscribers
// receive as Revocation{Reset: true}: wider than needed, never narrower.
const (
	maxPayload       = 7999
	maxPayloadUserID = maxPayload - 2*sha256.Size - 1
	resetPayload     = "*"
)

// encodePayload returns the notice payload for h (zero: all of userID's
// sessions or grants) and userID.
func encodePayload(h storage.TokenHash, userID string) string {
	if len(userID) > maxPayloadUserID {
		return resetPayload
	}
	if h.IsZero() {
		return ":" + userID
	}
	return h.String() + ":" + userID
}

// sqlPayload is encodePayload as an SQL expression over a bytea token hash
// column and a text user ID column of the row being deleted.
func sqlPayload(hashColumn, userColumn string) string {
	return fmt.Sprintf(`CASE WHEN octet_length(%[2]s) <= %[3]d THEN encode(%[1]s, 'hex') || ':' || %[2]s ELSE '%[4]s' END`,
		hashColumn, userColumn, maxPayloadUserID, resetPayload)
}

// decodePayload parses a notice payload. Anything it does not understand
// (a foreign NOTIFY on the channel, a future format) becomes a Reset: an
// unknown notice must never leave a cache trusted.
func decodePayload(p string) storage.Revocation {
	i := strings.IndexByte(p, ':')
	switch i {
	case 0:
		return storage.Revocation{UserID: p[1:]}
	case 2 * sha256.Size:
		h, err := storage.ParseTokenHash(p[:i])
		if err != nil {
			return storage.Revocation{Reset: true}
		}
		return storage.Revocation{UserID: p[i+1:], TokenHash: h}
	default:
		return storage.Revocation{Reset: true}
	}
}

// Subscribe calls fn for every revocation committed through any Store on
// the same database and channel after Subscribe returns, this one's
// included. fn is called from the listener goroutine, one notice at a
// time, in the order PostgreSQL delivered them; it must not block.
//
// When the listener connection is lost, fn receives Revocation{Reset: true}
// at once, and again once the listener is LISTENing on a new connection.
// cancel stops delivery (a call already under way may finish) and is safe
// to call more than once, also from fn. Subscribe fails after
// [Store.Close].
func (s *Store) Subscribe(fn func(storage.Revocation)) (cancel func(), err error) {
	if fn == nil {
		return nil, errors.New("storage/postgres: subscribe: nil func")
	}
	return s.listener.subscribe(fn)
}

// listener owns one connection taken out of the pool (hijacked), LISTENs
// on the channel and fans notices out to the subscribers.
type listener struct {
	pool    *pgxpool.Pool
	channel string
	listen  string // the LISTEN statement
	ping    time.Duration
	onError func(error)

	subs fanout.Set // closed by close
}

func newListener(pool *pgxpool.Pool, channel string, ping time.Duration, onError func(error)) *listener {
	return &listener{
		pool:    pool,
		channel: channel,
		listen:  "LISTEN " + pgx.Identifier{channel}.Sanitize(),
		ping:    ping,
		onError: onError,
	}
}

func (l *listener) subscribe(fn func(storage.Revocation)) (func(), error) {
	cancel, ok := l.subs.Add(fn)
	if !ok {
		return nil, errors.New("storage/postgres: subscribe: store closed")
	}
	return cancel, nil
}

func (l *listener) deliver(r storage.Revocation) { l.subs.Deliver(r) }

// start connects and LISTENs with ctx, the caller's context, so that
// Subscribe's guarantee holds as soon as New returns; then it runs the
// listener in the background until bg is cancelled.
func (l *listener) start(ctx, bg context.Context, wg *sync.WaitGroup) error {
	conn, err := l.connect(ctx)
	if err != nil {
		return wrap(ctx, "listen", err)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		l.run(bg, conn)
	}()
	return nil
}

// close cancels every subscription and makes later subscribe calls fail.
func (l *listener) close() { l.subs.Close() }

// connect takes a connection out of the pool, names it, and LISTENs.
func (l *listener) connect(ctx context.Context) (*pgx.Conn, error) {
	pc, err := l.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	conn := pc.Hijack()
	if _, err := conn.Exec(ctx, `SET application_name = '`+ListenerApplicationName+`'`); err != nil {
		closeConn(conn)
		return nil, err
	}
	if _, err := conn.Exec(ctx, l.listen); err != nil {
		closeConn(conn)
		return nil, err
	}
	return conn, nil
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

func (l *listener) run(ctx context.Context, conn *pgx.Conn) {
	for {
		err := l.receive(ctx, conn)
		if ctx.Err() != nil {
			closeConn(conn)
			return
		}
		l.deliver(storage.Revocation{Reset: true})
		closeConn(conn)
		l.onError(fmt.Errorf("storage/postgres: listener connection lost: %w", err))
		if conn = l.reconnect(ctx); conn == nil {
			return
		}
		l.deliver(storage.Revocation{Reset: true})
	}
}

// receive delivers notices until the connection fails or ctx is done.
// After a quiet ping interval it re-issues LISTEN (a no-op on a live
// connection) to detect a connection that died silently.
func (l *listener) receive(ctx context.Context, conn *pgx.Conn) error {
	for {
		wctx, cancel := context.WithTimeout(ctx, l.ping)
		n, err := conn.WaitForNotification(wctx)
		quiet := wctx.Err() != nil
		cancel()
		switch {
		case err == nil:
			if n.Channel == l.channel {
				l.deliver(decodePayload(n.Payload))
			}
			continue
		case ctx.Err() != nil:
			return ctx.Err()
		case !quiet || conn.IsClosed():
			return err
		}
		pctx, cancel := context.WithTimeout(ctx, l.ping)
		_, err = conn.Exec(pctx, l.listen)
		cancel()
		if err != nil {
			return err
		}
	}
}

// reconnect retries connect with a bounded backoff, each attempt bounded by
// the ping interval, until it succeeds or ctx is done (nil).
func (l *listener) reconnect(ctx context.Context) *pgx.Conn {
	delay := time.Duration(0)
	for {
		if delay > 0 {
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
		}
		// A partition can leave dead idle connections in the pool: bound
		// each attempt so that one of them cannot stall the listener.
		actx, cancel := context.WithTimeout(ctx, l.ping)
		conn, err := l.connect(actx)
		cancel()
		if err == nil {
			return conn
		}
		if ctx.Err() != nil {
			return nil
		}
		l.onError(fmt.Errorf("storage/postgres: listener reconnect: %w", err))
		delay = min(max(2*delay, minBackoff), maxBackoff)
	}
}
