package session_test

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionguard/sessionguard/session"
	"github.com/sessionguard/sessionguard/storage"
	"github.com/sessionguard/sessionguard/storage/memory"
)

// boundedStore is a memory store whose notifier declares a bound and
// reports delivery failures through the storage.BoundedNotifier hooks.
type boundedStore struct {
	storage.Store
	bound time.Duration

	mu       sync.Mutex
	watchers map[int]func(error)
	next     int
}

func newBoundedStore(t *testing.T, bound time.Duration) *boundedStore {
	s := memory.New(memory.Options{})
	t.Cleanup(func() { s.Close() })
	return &boundedStore{Store: s, bound: bound, watchers: map[int]func(error){}}
}

func (b *boundedStore) NotifyBound() time.Duration { return b.bound }

func (b *boundedStore) OnDeliveryError(fn func(error)) func() {
	b.mu.Lock()
	defer b.mu.Unlock()
	id := b.next
	b.next++
	b.watchers[id] = fn
	return func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		delete(b.watchers, id)
	}
}

// fail reports err to the registered watchers and returns how many there
// were.
func (b *boundedStore) fail(err error) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, fn := range b.watchers {
		fn(err)
	}
	return len(b.watchers)
}

var _ storage.BoundedNotifier = (*boundedStore)(nil)

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestManagerAdoptsTheNotifierBound(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		bound      time.Duration
		configured time.Duration
		want       time.Duration
	}{
		{"a bound shorter than the default becomes RevocationTTL", 12 * time.Second, 0, 12 * time.Second},
		{"a bound longer than the default leaves the default", 5 * time.Minute, 0, session.DefaultRevocationTTL},
		{"a bound shorter than the no-notifier TTL gives that TTL", 2 * time.Second, 0, session.DefaultRevocationTTLNoNotify},
		{"a configured RevocationTTL wins over the bound", 12 * time.Second, 7 * time.Second, 7 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := session.New(session.Config{
				Store:         newBoundedStore(t, tt.bound),
				Keys:          []session.KeyPair{mustKeys(t)},
				RevocationTTL: tt.configured,
				Logger:        slog.New(slog.NewTextHandler(&syncBuffer{}, nil)),
			})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			defer m.Close()
			if got := session.RevocationTTLOf(m); got != tt.want {
				t.Errorf("RevocationTTL: got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestManagerLogsNotifierDeliveryFailures(t *testing.T) {
	t.Parallel()
	store := newBoundedStore(t, 2*time.Second)
	logs := &syncBuffer{}
	m, err := session.New(session.Config{
		Store:  store,
		Keys:   []session.KeyPair{mustKeys(t)},
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if got := store.fail(errors.New("test: listener deaf")); got != 1 {
		t.Fatalf("delivery-error watchers while the Manager runs: got %d, want 1", got)
	}
	out := logs.String()
	if !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "test: listener deaf") {
		t.Errorf("log after a delivery failure: got %q, want an ERROR line with the error", out)
	}
	m.Close()
	if got := store.fail(errors.New("test: after close")); got != 0 {
		t.Errorf("delivery-error watchers after Close: got %d, want 0", got)
	}
}
