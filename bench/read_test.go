package bench

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"

	goredis "github.com/redis/go-redis/v9"
)

// readValue is the size of a stored session, roughly.
var readValue = bytes.Repeat([]byte("s"), 300)

func benchmarkReadPostgres(b *testing.B) {
	url := os.Getenv(EnvPostgres)
	if url == "" {
		b.Skip(EnvPostgres + " is not set")
	}
	ctx := context.Background()
	s := &Server{}
	b.Cleanup(s.Close)
	pool, err := schemaPool(ctx, s, url)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `CREATE TABLE kv (k BYTEA PRIMARY KEY, v BYTEA NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	key := []byte("0123456789abcdef0123456789abcdef")
	if _, err := pool.Exec(ctx, `INSERT INTO kv VALUES ($1, $2)`, key, readValue); err != nil {
		b.Fatal(err)
	}
	var v []byte
	b.ReportAllocs()
	for b.Loop() {
		if err := pool.QueryRow(ctx, `SELECT v FROM kv WHERE k = $1`, key).Scan(&v); err != nil {
			b.Fatal(err)
		}
	}
	if !bytes.Equal(v, readValue) {
		b.Fatalf("read %d bytes, want the %d stored", len(v), len(readValue))
	}
}

func benchmarkReadRedis(b *testing.B) {
	url := os.Getenv(EnvRedis)
	if url == "" {
		b.Skip(EnvRedis + " is not set")
	}
	ctx := context.Background()
	s := &Server{}
	b.Cleanup(s.Close)
	prefix := randomName("bench:read:") + ":"
	if err := dropRedisPrefix(ctx, s, url, prefix); err != nil {
		b.Fatal(err)
	}
	o, err := goredis.ParseURL(url)
	if err != nil {
		b.Fatal(errors.New(EnvRedis + ": invalid URL"))
	}
	c := goredis.NewClient(o)
	b.Cleanup(func() { c.Close() })
	key := prefix + "0123456789abcdef0123456789abcdef"
	if err := c.Set(ctx, key, readValue, 0).Err(); err != nil {
		b.Fatal(err)
	}
	var v []byte
	b.ReportAllocs()
	for b.Loop() {
		if v, err = c.Get(ctx, key).Bytes(); err != nil {
			b.Fatal(err)
		}
	}
	if !bytes.Equal(v, readValue) {
		b.Fatalf("read %d bytes, want the %d stored", len(v), len(readValue))
	}
}
