package geoip

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/sessionguard/sessionguard/storage"
)

// place is one GeoIP2-City-shaped record of the test database. Empty
// fields are left out of the record, as MaxMind does.
type place struct {
	network                       string
	city, region, country, iso    string
	extraLanguages, noSubdivision bool
}

// The test database: made-up data on public networks (mmdbwriter refuses
// reserved ones such as the documentation ranges).
var places = []place{
	{network: "2.80.0.0/16", city: "Lisbon", region: "Lisbon", country: "Portugal", iso: "PT", extraLanguages: true},
	{network: "81.2.69.0/24", city: "London", region: "England", country: "United Kingdom", iso: "GB"},
	{network: "2001:67c:2e8::/48", city: "Amsterdam", region: "North Holland", country: "Netherlands", iso: "NL"},
	{network: "1.128.0.0/16", country: "Australia", iso: "AU", noSubdivision: true},
	{network: "5.5.5.0/24", city: "Zürich\r\n\u202e", region: "Zurich", country: "Switzerland", iso: "ch"},
	{network: "5.5.6.0/24", city: "Nowhere", country: "Atlantis", iso: "ATL"},
}

func nameMap(en string, extra bool) mmdbtype.Map {
	m := mmdbtype.Map{"en": mmdbtype.String(en)}
	if extra {
		m["de"] = mmdbtype.String(en + " (de)")
		m["pt-BR"] = mmdbtype.String(en + " (pt)")
	}
	return m
}

func (p place) record() mmdbtype.Map {
	rec := mmdbtype.Map{}
	if p.city != "" {
		rec["city"] = mmdbtype.Map{"geoname_id": mmdbtype.Uint32(1), "names": nameMap(p.city, p.extraLanguages)}
	}
	if !p.noSubdivision && p.region != "" {
		rec["subdivisions"] = mmdbtype.Slice{
			mmdbtype.Map{"iso_code": mmdbtype.String("11"), "names": nameMap(p.region, p.extraLanguages)},
			mmdbtype.Map{"iso_code": mmdbtype.String("22"), "names": nameMap("Second "+p.region, false)},
		}
	}
	rec["country"] = mmdbtype.Map{"iso_code": mmdbtype.String(p.iso), "names": nameMap(p.country, p.extraLanguages)}
	rec["location"] = mmdbtype.Map{"latitude": mmdbtype.Float64(38.7), "longitude": mmdbtype.Float64(-9.1)}
	return rec
}

// writeDB writes a database of places to a new file and returns its path.
func writeDB(t testing.TB, ipVersion int, places []place) string {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType: "GeoLite2-City",
		Description:  map[string]string{"en": "sessionguard test database"},
		IPVersion:    ipVersion,
		RecordSize:   24,
		Languages:    []string{"en", "de", "pt-BR"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range places {
		_, network, err := net.ParseCIDR(p.network)
		if err != nil {
			t.Fatal(err)
		}
		if err := tree.Insert(network, p.record()); err != nil {
			t.Fatalf("inserting %s: %v", p.network, err)
		}
	}
	path := filepath.Join(t.TempDir(), "GeoLite2-City.mmdb")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tree.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func openTestDB(t testing.TB) *Reader {
	t.Helper()
	r, err := Open(writeDB(t, 6, places))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func TestLocate(t *testing.T) {
	t.Parallel()
	r := openTestDB(t)
	tests := []struct {
		name string
		ip   netip.Addr
		want storage.Location
	}{
		{"a known IPv4 address gives its city, region and country", netip.MustParseAddr("2.80.1.2"), storage.Location{City: "Lisbon", Region: "Lisbon", Country: "Portugal", CountryCode: "PT"}},
		{"another known IPv4 network gives its own place", netip.MustParseAddr("81.2.69.142"), storage.Location{City: "London", Region: "England", Country: "United Kingdom", CountryCode: "GB"}},
		{"a known IPv6 address is located", netip.MustParseAddr("2001:67c:2e8::1"), storage.Location{City: "Amsterdam", Region: "North Holland", Country: "Netherlands", CountryCode: "NL"}},
		{"an IPv4-mapped IPv6 address is looked up as IPv4", netip.MustParseAddr("::ffff:81.2.69.142"), storage.Location{City: "London", Region: "England", Country: "United Kingdom", CountryCode: "GB"}},
		{"an address with a zone is looked up without it", netip.MustParseAddr("2001:67c:2e8::1%eth0"), storage.Location{City: "Amsterdam", Region: "North Holland", Country: "Netherlands", CountryCode: "NL"}},
		{"a record with only a country gives only the country", netip.MustParseAddr("1.128.0.1"), storage.Location{Country: "Australia", CountryCode: "AU"}},
		{"names are cleaned of control and format characters", netip.MustParseAddr("5.5.5.5"), storage.Location{City: "Zürich", Region: "Zurich", Country: "Switzerland", CountryCode: "CH"}},
		{"a country code that is not two letters is dropped", netip.MustParseAddr("5.5.6.6"), storage.Location{City: "Nowhere", Country: "Atlantis"}},
		{"an unknown public IPv4 address is the zero location", netip.MustParseAddr("8.8.8.8"), storage.Location{}},
		{"an unknown public IPv6 address is the zero location", netip.MustParseAddr("2a00:1450:4001::1"), storage.Location{}},
		{"a private IPv4 address is the zero location", netip.MustParseAddr("192.168.1.10"), storage.Location{}},
		{"a 10/8 address is the zero location", netip.MustParseAddr("10.1.2.3"), storage.Location{}},
		{"a unique local IPv6 address is the zero location", netip.MustParseAddr("fd00::1"), storage.Location{}},
		{"IPv4 loopback is the zero location", netip.MustParseAddr("127.0.0.1"), storage.Location{}},
		{"IPv6 loopback is the zero location", netip.IPv6Loopback(), storage.Location{}},
		{"a link-local address is the zero location", netip.MustParseAddr("169.254.1.1"), storage.Location{}},
		{"an IPv6 link-local address is the zero location", netip.MustParseAddr("fe80::1"), storage.Location{}},
		{"a multicast address is the zero location", netip.MustParseAddr("224.0.0.1"), storage.Location{}},
		{"the unspecified IPv4 address is the zero location", netip.IPv4Unspecified(), storage.Location{}},
		{"the unspecified IPv6 address is the zero location", netip.IPv6Unspecified(), storage.Location{}},
		{"the invalid address is the zero location", netip.Addr{}, storage.Location{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := r.Locate(context.Background(), tt.ip)
			if err != nil {
				t.Fatalf("Locate(%v) error = %v, want nil", tt.ip, err)
			}
			if got != tt.want {
				t.Errorf("Locate(%v) = %#v, want %#v", tt.ip, got, tt.want)
			}
		})
	}
}

func TestLocateIPv6InIPv4Database(t *testing.T) {
	t.Parallel()
	r, err := Open(writeDB(t, 4, []place{{network: "81.2.69.0/24", city: "London", country: "United Kingdom", iso: "GB"}}))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer r.Close()
	ctx := context.Background()
	if got, err := r.Locate(ctx, netip.MustParseAddr("2001:67c:2e8::1")); err != nil || !got.IsZero() {
		t.Errorf("Locate(IPv6) in an IPv4 database = %#v, %v; want the zero location and nil", got, err)
	}
	want := storage.Location{City: "London", Country: "United Kingdom", CountryCode: "GB"}
	if got, err := r.Locate(ctx, netip.MustParseAddr("81.2.69.1")); err != nil || got != want {
		t.Errorf("Locate(81.2.69.1) = %#v, %v; want %#v, nil", got, err, want)
	}
}

func TestOpenRefusesBadFiles(t *testing.T) {
	t.Parallel()
	good, err := os.ReadFile(writeDB(t, 6, places))
	if err != nil {
		t.Fatal(err)
	}
	// The search tree starts the file; pointing its first nodes past the
	// end of the tree and data corrupts it while keeping the metadata.
	brokenTree := append([]byte(nil), good...)
	for i := range 24 {
		brokenTree[i] = 0xff
	}
	tests := []struct {
		name    string
		content []byte
	}{
		{"an empty file", []byte{}},
		{"random bytes", []byte("this is not a MaxMind DB file, just some text\n")},
		{"a file cut in half", good[:len(good)/2]},
		{"a file with a corrupt search tree", brokenTree},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "bad.mmdb")
			if err := os.WriteFile(path, tt.content, 0o600); err != nil {
				t.Fatal(err)
			}
			r, err := Open(path)
			if err == nil {
				r.Close()
				t.Fatalf("Open(%s) error = nil, want an error", tt.name)
			}
		})
	}
	t.Run("a missing file", func(t *testing.T) {
		t.Parallel()
		_, err := Open(filepath.Join(t.TempDir(), "missing.mmdb"))
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Open(missing) error = %v, want one wrapping fs.ErrNotExist", err)
		}
	})
}

func TestClose(t *testing.T) {
	t.Parallel()
	r, err := Open(writeDB(t, 6, places))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("Close() = %v, want nil", err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close() = %v, want nil", err)
	}
	_, err = r.Locate(context.Background(), netip.MustParseAddr("2.80.1.2"))
	if !errors.Is(err, ErrClosed) {
		t.Errorf("Locate after Close error = %v, want ErrClosed", err)
	}
	// Unlocatable addresses need no database and stay a zero answer.
	if got, err := r.Locate(context.Background(), netip.MustParseAddr("10.0.0.1")); err != nil || !got.IsZero() {
		t.Errorf("Locate(private) after Close = %#v, %v; want the zero location and nil", got, err)
	}
}

// TestConcurrentLocateAndClose is meant for -race: lookups in flight while
// the reader closes either succeed or report ErrClosed.
func TestConcurrentLocateAndClose(t *testing.T) {
	t.Parallel()
	r, err := Open(writeDB(t, 6, places))
	if err != nil {
		t.Fatal(err)
	}
	want := storage.Location{City: "Lisbon", Region: "Lisbon", Country: "Portugal", CountryCode: "PT"}
	ip := netip.MustParseAddr("2.80.1.2")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				got, err := r.Locate(context.Background(), ip)
				if err != nil && !errors.Is(err, ErrClosed) {
					t.Errorf("Locate error = %v, want nil or ErrClosed", err)
					return
				}
				if err == nil && got != want {
					t.Errorf("Locate = %#v, want %#v", got, want)
					return
				}
			}
		})
	}
	wg.Go(func() {
		if err := r.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
	})
	wg.Wait()
}

func BenchmarkLocate(b *testing.B) {
	r := openTestDB(b)
	ctx := context.Background()
	for _, c := range []struct {
		name string
		ip   netip.Addr
	}{
		{"known IPv4", netip.MustParseAddr("2.80.1.2")},
		{"known IPv6", netip.MustParseAddr("2001:67c:2e8::1")},
		{"unknown public", netip.MustParseAddr("8.8.8.8")},
		{"private", netip.MustParseAddr("192.168.1.1")},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.Locate(ctx, c.ip); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
