package fanout

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sessionguard/sessionguard/storage"
)

// journal records which subscriber received which notice, in order.
type journal struct {
	mu  sync.Mutex
	got []string
}

// fn returns a subscriber named name that records what it receives.
func (j *journal) fn(name string) func(storage.Revocation) {
	return func(r storage.Revocation) { j.add(name + ":" + r.UserID) }
}

func (j *journal) add(s string) {
	j.mu.Lock()
	j.got = append(j.got, s)
	j.mu.Unlock()
}

func (j *journal) String() string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return strings.Join(j.got, " ")
}

// live returns the number of subscribers s still holds.
func live(s *Set) int {
	if cur := s.subs.Load(); cur != nil {
		return len(*cur)
	}
	return 0
}

func rev(user string) storage.Revocation { return storage.Revocation{UserID: user} }

func TestSet(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		run  func(t *testing.T, s *Set, j *journal)
		want string // the journal, space-separated
		live int    // subscribers left in the Set
	}{
		{
			name: "the zero Set delivers to nobody",
			run:  func(t *testing.T, s *Set, j *journal) { s.Deliver(rev("u1")) },
			want: "",
		},
		{
			name: "every subscriber receives every notice in the order added",
			run: func(t *testing.T, s *Set, j *journal) {
				mustAdd(t, s, j.fn("a"))
				mustAdd(t, s, j.fn("b"))
				s.Deliver(rev("u1"))
				s.Deliver(rev("u2"))
			},
			want: "a:u1 b:u1 a:u2 b:u2",
			live: 2,
		},
		{
			name: "a subscriber receives only notices delivered after Add",
			run: func(t *testing.T, s *Set, j *journal) {
				s.Deliver(rev("u1"))
				mustAdd(t, s, j.fn("a"))
				s.Deliver(rev("u2"))
			},
			want: "a:u2",
			live: 1,
		},
		{
			name: "a cancelled subscriber receives nothing more",
			run: func(t *testing.T, s *Set, j *journal) {
				cancel := mustAdd(t, s, j.fn("a"))
				mustAdd(t, s, j.fn("b"))
				s.Deliver(rev("u1"))
				cancel()
				s.Deliver(rev("u2"))
			},
			want: "a:u1 b:u1 b:u2",
			live: 1,
		},
		{
			name: "cancel called twice removes only its own subscriber",
			run: func(t *testing.T, s *Set, j *journal) {
				mustAdd(t, s, j.fn("a"))
				cancel := mustAdd(t, s, j.fn("b"))
				mustAdd(t, s, j.fn("c"))
				cancel()
				cancel()
				s.Deliver(rev("u1"))
			},
			want: "a:u1 c:u1",
			live: 2,
		},
		{
			name: "the same func added twice is called twice and cancelled once",
			run: func(t *testing.T, s *Set, j *journal) {
				fn := j.fn("a")
				cancel := mustAdd(t, s, fn)
				mustAdd(t, s, fn)
				s.Deliver(rev("u1"))
				cancel()
				s.Deliver(rev("u2"))
			},
			want: "a:u1 a:u1 a:u2",
			live: 1,
		},
		{
			name: "a subscriber that cancels itself from fn is called once",
			run: func(t *testing.T, s *Set, j *journal) {
				var cancel func()
				cancel = mustAdd(t, s, func(r storage.Revocation) {
					j.add("a:" + r.UserID)
					cancel()
				})
				s.Deliver(rev("u1"))
				s.Deliver(rev("u2"))
			},
			want: "a:u1",
		},
		{
			name: "a subscriber cancelled by an earlier one during Deliver is skipped at once",
			run: func(t *testing.T, s *Set, j *journal) {
				var cancelB func()
				mustAdd(t, s, func(r storage.Revocation) {
					j.add("a:" + r.UserID)
					cancelB()
				})
				cancelB = mustAdd(t, s, j.fn("b"))
				s.Deliver(rev("u1"))
			},
			want: "a:u1",
			live: 1,
		},
		{
			name: "a subscriber added during Deliver is called from the next one",
			run: func(t *testing.T, s *Set, j *journal) {
				added := false
				mustAdd(t, s, func(r storage.Revocation) {
					j.add("a:" + r.UserID)
					if !added {
						added = true
						mustAdd(t, s, j.fn("b"))
					}
				})
				s.Deliver(rev("u1"))
				s.Deliver(rev("u2"))
			},
			want: "a:u1 a:u2 b:u2",
			live: 2,
		},
		{
			name: "a subscriber may deliver again from fn",
			run: func(t *testing.T, s *Set, j *journal) {
				mustAdd(t, s, func(r storage.Revocation) {
					j.add("a:" + r.UserID)
					if r.UserID == "u1" {
						s.Deliver(rev("u2"))
					}
				})
				s.Deliver(rev("u1"))
			},
			want: "a:u1 a:u2",
			live: 1,
		},
		{
			name: "Close cancels every subscriber and a later cancel is a no-op",
			run: func(t *testing.T, s *Set, j *journal) {
				cancel := mustAdd(t, s, j.fn("a"))
				mustAdd(t, s, j.fn("b"))
				s.Close()
				s.Deliver(rev("u1"))
				cancel()
				s.Close()
			},
			want: "",
		},
		{
			name: "Close from fn stops the Deliver under way",
			run: func(t *testing.T, s *Set, j *journal) {
				mustAdd(t, s, func(r storage.Revocation) {
					j.add("a:" + r.UserID)
					s.Close()
				})
				mustAdd(t, s, j.fn("b"))
				s.Deliver(rev("u1"))
			},
			want: "a:u1",
		},
		{
			name: "Add after Close fails and adds nothing",
			run: func(t *testing.T, s *Set, j *journal) {
				s.Close()
				if cancel, ok := s.Add(j.fn("a")); ok || cancel != nil {
					t.Errorf("Add after Close: got ok %v, cancel nil %v; want false, true", ok, cancel == nil)
				}
				s.Deliver(rev("u1"))
			},
			want: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var s Set
			j := &journal{}
			tt.run(t, &s, j)
			if got := j.String(); got != tt.want {
				t.Errorf("deliveries: got %q, want %q", got, tt.want)
			}
			if got := live(&s); got != tt.live {
				t.Errorf("subscribers left: got %d, want %d", got, tt.live)
			}
		})
	}
}

func mustAdd(t *testing.T, s *Set, fn func(storage.Revocation)) func() {
	t.Helper()
	cancel, ok := s.Add(fn)
	if !ok {
		t.Fatal("Add: got ok false, want true")
	}
	return cancel
}

func TestAddNilPanics(t *testing.T) {
	t.Parallel()
	defer func() {
		if recover() == nil {
			t.Error("Add(nil): got no panic, want one")
		}
	}()
	var s Set
	s.Add(nil)
}

// TestConcurrentUse races Add, cancel (twice at once, and from inside fn)
// and Deliver; run it with -race. Each worker's subscriber must receive the
// notice the worker delivers while it is subscribed and not the one it
// delivers after cancel returned, whatever other goroutines deliver
// meanwhile; and the Set must end empty.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	const (
		workers    = 8
		rounds     = 200
		deliverers = 4
	)
	var s Set
	stop := make(chan struct{})
	var noise sync.WaitGroup
	for range deliverers {
		noise.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
					s.Deliver(rev("noise"))
				}
			}
		})
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range rounds {
				mark := fmt.Sprintf("w%d-%d", w, i)
				selfCancel := i%3 == 0
				var got atomic.Int32
				var cancel func()
				cancel, ok := s.Add(func(r storage.Revocation) {
					if r.UserID != mark {
						return
					}
					got.Add(1)
					if selfCancel {
						cancel()
					}
				})
				if !ok {
					errs <- fmt.Errorf("%s: Add: got ok false, want true", mark)
					return
				}
				s.Deliver(rev(mark))
				var both sync.WaitGroup
				both.Go(cancel)
				both.Go(cancel)
				both.Wait()
				s.Deliver(rev(mark))
				if n := got.Load(); n != 1 {
					errs <- fmt.Errorf("%s: notices received: got %d, want 1", mark, n)
					return
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	noise.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := live(&s); n != 0 {
		t.Errorf("subscribers left: got %d, want 0", n)
	}
}

// TestDeliverDoesNotAllocate is not parallel: AllocsPerRun counts the
// allocations of the whole process.
func TestDeliverDoesNotAllocate(t *testing.T) {
	var s Set
	var n atomic.Int64
	for range 4 {
		mustAdd(t, &s, func(storage.Revocation) { n.Add(1) })
	}
	r := storage.Revocation{UserID: "u1", TokenHash: storage.HashToken([]byte("t"))}
	if allocs := testing.AllocsPerRun(100, func() { s.Deliver(r) }); allocs != 0 {
		t.Errorf("allocations per Deliver: got %v, want 0", allocs)
	}
	if n.Load() == 0 {
		t.Error("subscriber calls: got 0, want some")
	}
}
