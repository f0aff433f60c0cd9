// Package geoip resolves a client's IP address to an approximate location
// (city, region, country) from a MaxMind DB file, so that a sessions list can
// say "Lisbon, Portugal" next to a device.
//
// [Reader] satisfies the session package's Locator interface
//
//	Locate(ctx context.Context, ip netip.Addr) (storage.Location, error)
//
// and is plugged in through session.Config.Locator:
//
//	geo, err := geoip.Open("/var/lib/GeoIP/GeoLite2-City.mmdb")
//	if err != nil { ... }
//	defer geo.Close()
//	cfg.Locator = geo
//
// # Getting a database
//
// Any database with GeoIP2-City-shaped records works: MaxMind's free
// GeoLite2-City, its commercial GeoIP2-City, or GeoLite2-Country (which gives
// the country alone). Nothing is downloaded by this package. Create a free
// MaxMind account at https://www.maxmind.com/en/geolite2/signup, accept the
// GeoLite2 license, and download the "GeoLite2 City" database in MaxMind DB
// (.mmdb) format from the account's download page, or keep it current with
// MaxMind's geoipupdate tool (the databases are updated twice a week). The
// license asks you to attribute MaxMind and to keep the data up to date.
//
// To pick up a new file, Open a new Reader, swap it into place and Close the
// old one; never rewrite the open file in place, as it is memory-mapped.
//
// # Accuracy and privacy
//
// An IP location is approximate, often only right about the country, and
// wrong for VPNs and mobile carriers: show it as a hint ("near Lisbon"), not
// as a fact. Lookups happen locally; no address leaves the process.
package geoip

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"

	"github.com/oschwald/maxminddb-golang/v2"
	"github.com/sessionguard/sessionguard/internal/device"
	"github.com/sessionguard/sessionguard/storage"
)

// ErrClosed is returned by [Reader.Locate] after [Reader.Close].
var ErrClosed = errors.New("session/geoip: reader is closed")

// maxName bounds a place name taken from the database.
const maxName = 128

// Reader looks up locations in a MaxMind DB file. It is safe for concurrent
// use, Close included.
type Reader struct {
	mu sync.RWMutex
	db *maxminddb.Reader // nil once closed
}

// cityRecord is the part of a GeoIP2-City record that Locate reads. The
// maxsize limits make an absurd record a decoding error instead of a large
// allocation.
type cityRecord struct {
	City struct {
		Names names `maxminddb:"names"`
	} `maxminddb:"city"`
	Subdivisions []struct {
		Names names `maxminddb:"names"`
	} `maxminddb:"subdivisions,maxsize:16"`
	Country struct {
		ISOCode string `maxminddb:"iso_code,maxsize:16"`
		Names   names  `maxminddb:"names"`
	} `maxminddb:"country"`
}

// names holds the English name of a place; other languages are skipped
// without being decoded.
type names struct {
	English string `maxminddb:"en,maxsize:1024"`
}

// Open opens the MaxMind DB file at path (for example GeoLite2-City.mmdb)
// and verifies its whole structure, so that a truncated, corrupt or
// non-conforming file is refused here rather than failing lookups later.
// Verification reads the whole file once: for GeoLite2-City (about 60 MB)
// it takes in the order of a second. The file is memory-mapped: do not
// rewrite it while the Reader is open. Close the Reader when done.
func Open(path string) (*Reader, error) {
	db, err := maxminddb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("session/geoip: opening %s: %w", path, err)
	}
	if err := db.Verify(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("session/geoip: %s is not a valid MaxMind DB file: %w", path, err)
	}
	return &Reader{db: db}, nil
}

// Locate returns the approximate location of ip: the English names of its
// city, first subdivision (Region) and country, and the country's ISO 3166-1
// alpha-2 code, each "" when the database does not know it.
//
// Addresses that cannot be located are not an error: an invalid, private,
// loopback, link-local, multicast or unspecified address, one the database
// does not contain, or an IPv6 address in an IPv4-only database gives the
// zero Location and a nil error. An IPv4-mapped IPv6 address is looked up as
// IPv4. Locate returns an error only when a record cannot be decoded (a
// corrupt database) or after Close ([ErrClosed]).
//
// Names are cleaned as [device.Truncate] does and cut to 128 bytes; a
// country code is upper-cased, and dropped unless it is two ASCII letters. The lookup is
// local and does not block, so ctx is not consulted.
func (r *Reader) Locate(ctx context.Context, ip netip.Addr) (storage.Location, error) {
	ip = ip.WithZone("").Unmap()
	if !locatable(ip) {
		return storage.Location{}, nil
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.db == nil {
		return storage.Location{}, ErrClosed
	}
	if ip.Is6() && r.db.Metadata.IPVersion == 4 {
		return storage.Location{}, nil
	}
	var rec cityRecord
	// The address is left out of the error: it is personal data, and the
	// caller may log the error.
	if err := r.db.Lookup(ip).Decode(&rec); err != nil {
		return storage.Location{}, fmt.Errorf("session/geoip: reading a record: %w", err)
	}
	loc := storage.Location{
		City:        name(rec.City.Names),
		Country:     name(rec.Country.Names),
		CountryCode: countryCode(rec.Country.ISOCode),
	}
	if len(rec.Subdivisions) > 0 {
		loc.Region = name(rec.Subdivisions[0].Names)
	}
	return loc, nil
}

// Close releases the database. Locate calls after Close return ErrClosed;
// Close waits for lookups in progress and may be called more than once.
func (r *Reader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.db == nil {
		return nil
	}
	err := r.db.Close()
	r.db = nil
	if err != nil {
		return fmt.Errorf("session/geoip: closing: %w", err)
	}
	return nil
}

// locatable reports whether ip could have a place in a location database:
// a valid unicast address on the public internet.
func locatable(ip netip.Addr) bool {
	return ip.IsValid() &&
		!ip.IsUnspecified() &&
		!ip.IsLoopback() &&
		!ip.IsPrivate() &&
		!ip.IsLinkLocalUnicast() &&
		!ip.IsMulticast()
}

// name returns the cleaned English name.
func name(n names) string {
	return device.Truncate(n.English, maxName)
}

// countryCode returns c in upper case if it is an ISO 3166-1 alpha-2 code,
// else "".
func countryCode(c string) string {
	if len(c) != 2 {
		return ""
	}
	var code [2]byte
	for i := range code {
		switch b := c[i]; {
		case 'A' <= b && b <= 'Z':
			code[i] = b
		case 'a' <= b && b <= 'z':
			code[i] = b - 'a' + 'A'
		default:
			return ""
		}
	}
	return string(code[:])
}
