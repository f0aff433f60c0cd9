package main

import (
	"strings"
	"testing"
)

func TestSummarize(t *testing.T) {
	in := `goos: linux
pkg: github.com/sessionguard/sessionguard/bench
BenchmarkRequest/floor-2   	 100	      2000 ns/op	    1800 B/op	      16 allocs/op
BenchmarkRequest/floor-2   	 100	      3000 ns/op	    1800 B/op	      16 allocs/op
BenchmarkRequest/floor-2   	 100	      9000 ns/op	    1800 B/op	      17 allocs/op
--- SKIP: BenchmarkRequest/scs/redis
pkg: github.com/sessionguard/sessionguard/session
BenchmarkCacheGet/Serial-2 	 1000	      76.2 ns/op	       0 B/op	       0 allocs/op
BenchmarkCacheGet/Serial-2 	 1000	      77.8 ns/op	       0 B/op	       0 allocs/op
BenchmarkMiddleware/HitOverFloor-2 	 1000	      5000 ns/op	   1.071 hit/floor
BenchmarkMiddleware/HitOverFloor-2 	 1000	      5000 ns/op	   1.093 hit/floor
BenchmarkMiddleware/HitOverFloor-2 	 1000	      5000 ns/op	   1.052 hit/floor
BenchmarkCacheEntryBytes-2 	 100	       177.2 bytes/entry
BenchmarkCacheEntryBytes-2 	 100	       177.2 bytes/entry
PASS
`
	var out strings.Builder
	if err := summarize(strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| Request/floor | 3.00 µs | 1.76 KiB | 16 | – | 3 |",
		"| session.CacheGet/Serial | 77.0 ns | 0 B | 0 | – | 2 |",
		"| session.Middleware/HitOverFloor | 5.00 µs | – | – | 1.07 hit/floor | 3 |",
		"| session.CacheEntryBytes | – | – | – | 177 bytes/entry | 2 |",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("got\n%s\nwant a row %q", out.String(), want)
		}
	}
	if err := summarize(strings.NewReader("PASS\n"), &out); err == nil {
		t.Error("input without results: got nil error, want one")
	}
}

func TestFormats(t *testing.T) {
	for _, c := range []struct{ name, got, want string }{
		{"nanoseconds below a microsecond", duration(923), "923 ns"},
		{"microseconds keep three digits", duration(2556), "2.56 µs"},
		{"milliseconds keep three digits", duration(41_560_000), "41.6 ms"},
		{"seconds keep three digits", duration(1_635_000_000), "1.64 s"},
		{"bytes below a KiB are exact", bytes(764), "764 B"},
		{"KiB keep three digits", bytes(1812), "1.77 KiB"},
		{"MiB keep three digits", bytes(8.35 * (1 << 20)), "8.35 MiB"},
		{"a median between two counts keeps its half", count(35.5), "35.5"},
		{"an even number of values has the mean of the middle two as median", count(median([]float64{4, 1, 3, 2})), "2.5"},
	} {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
		}
	}
}
