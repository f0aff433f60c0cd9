package sqlite

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/sessionguard/sessionguard/storage"
)

var errClosed = errors.New("storage/sqlite: store is closed")

// Subscribe calls fn for every revocation committed after Subscribe returns:
// those made through this Store synchronously from the revoking goroutine,
// right after the commit and before the revoking method returns; those
// made by other processes (or other Stores on the same file) from the
// poller goroutine, within [Options.PollInterval]. When the revocation log
// cannot be read, fn receives Revocation{Reset: true} at once and again
// when it can. See [storage.Notifier].
//
// cancel stops delivery (a call already under way may finish) and may be
// called more than once, also from fn. Subscribe fails after [Store.Close].
func (s *Store) Subscribe(fn func(storage.Revocation)) (cancel func(), err error) {
	if fn == nil {
		return nil, errors.New("storage/sqlite: subscribe: nil func")
	}
	cancel, ok := s.subs.Add(fn)
	if !ok {
		return nil, errClosed
	}
	return cancel, nil
}

// deliver calls every live subscriber with r, outside any lock.
func (s *Store) deliver(r storage.Revocation) { s.subs.Deliver(r) }

// lastRevocationID returns the highest ID the revocation log has ever
// assigned (AUTOINCREMENT's high-water mark, which survives pruning): the
// poller starts after it.
func (s *Store) lastRevocationID(ctx context.Context) (int64, error) {
	var last int64
	err := s.r.QueryRowContext(ctx,
		`SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'revocations'), 0)`).Scan(&last)
	return last, wrap(ctx, "read revocation log", err)
}

// pollState is the poller's position in the revocation log. Only the
// poller goroutine uses it.
type pollState struct {
	last    int64 // highest ID read
	failing bool  // the last poll failed and a Reset was delivered
	rows    []logRow
}

// logRow is one row of the revocation log.
type logRow struct {
	id     int64
	origin []byte
	rev    storage.Revocation
}

// pollLoop reads the revocation log every s.poll until ctx is done.
func (s *Store) pollLoop(ctx context.Context, last int64) {
	defer s.wg.Done()
	t := time.NewTicker(s.poll)
	defer t.Stop()
	p := &pollState{last: last}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.pollOnce(ctx, p)
		}
	}
}

// pollOnce delivers the revocation-log rows after p.last that other Stores
// wrote (this Store's own were delivered in-process at commit). A failed
// read delivers a Reset; so does the first read that works again, and a
// read that finds rows were pruned before this Store saw them.
func (s *Store) pollOnce(ctx context.Context, p *pollState) {
	rows, err := s.readLog(ctx, p.last, p.rows[:0])
	p.rows = rows[:0]
	if err != nil {
		if ctx.Err() != nil {
			return // closing
		}
		if !p.failing {
			p.failing = true
			s.deliver(storage.Revocation{Reset: true})
		}
		return
	}
	// IDs are assigned in commit order without gaps (writes are
	// serialized and only the sweep deletes rows, oldest first), so a
	// first ID beyond last+1 means notices were pruned unread.
	if p.failing || len(rows) > 0 && rows[0].id > p.last+1 {
		p.failing = false
		s.deliver(storage.Revocation{Reset: true})
	}
	for _, r := range rows {
		p.last = r.id
		if !bytes.Equal(r.origin, s.origin) {
			s.deliver(r.rev)
		}
	}
}

// readLog appends the revocation-log rows with ID > last to rows, in ID
// order.
func (s *Store) readLog(ctx context.Context, last int64, rows []logRow) ([]logRow, error) {
	q, err := s.readLogStmt.QueryContext(ctx, last)
	if err != nil {
		return rows, wrap(ctx, "poll revocation log", err)
	}
	defer q.Close()
	for q.Next() {
		var r logRow
		var h []byte
		var at int64
		if err := q.Scan(&r.id, &r.origin, &r.rev.UserID, &h, &at); err != nil {
			return rows, wrap(ctx, "poll revocation log", err)
		}
		r.rev.CommittedAt = decodeTime(at)
		if h != nil {
			if err := scanHash(h, &r.rev.TokenHash); err != nil {
				return rows, err
			}
		}
		rows = append(rows, r)
	}
	return rows, wrap(ctx, "poll revocation log", q.Err())
}
