// Package dbtest gives tests a fresh database of each supported kind: an SQLite file in
// the test's temporary directory, and, when TEST_DATABASE_URL names a PostgreSQL database,
// a new schema in it that is dropped when the test ends.
//
// When ORDERSAGA_REQUIRE_POSTGRES is set (CI sets it), a missing TEST_DATABASE_URL fails
// the test instead of skipping PostgreSQL.
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ordersaga/ordersaga/internal/database"
)

// Environment variables read by this package.
const (
	EnvURL             = "TEST_DATABASE_URL"
	EnvRequirePostgres = "ORDERSAGA_REQUIRE_POSTGRES"
)

// Each runs fn as a subtest named "sqlite" on a fresh SQLite database and, when PostgreSQL
// is configured, again as "postgres" on a fresh schema.
func Each(t *testing.T, fn func(t *testing.T, cfg database.Config)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	t.Run("postgres", func(t *testing.T) {
		cfg, ok := Postgres(t)
		if !ok {
			t.Skip("PostgreSQL not configured: set " + EnvURL + " to run this case")
		}
		fn(t, cfg)
	})
}

// SQLite returns the config of a new SQLite file in t's temporary directory.
func SQLite(t *testing.T) database.Config {
	t.Helper()
	return database.Config{SQLitePath: filepath.Join(t.TempDir(), "test.db")}
}

// Postgres returns the config of a new, empty schema in the database of TEST_DATABASE_URL;
// the schema is dropped when t ends. It returns false when no URL is set (and fails t
// instead when PostgreSQL is required).
func Postgres(t *testing.T) (database.Config, bool) {
	t.Helper()
	url := os.Getenv(EnvURL)
	if url == "" {
		if os.Getenv(EnvRequirePostgres) != "" {
			t.Fatalf("%s is set but %s is empty: PostgreSQL tests must not be skipped", EnvRequirePostgres, EnvURL)
		}
		return database.Config{}, false
	}
	cfg := database.Config{URL: url, Schema: "t_" + randomHex(8)}
	t.Cleanup(func() { dropSchema(t, cfg) })
	return cfg, true
}

// NewSchema returns cfg with a fresh schema name, dropped when t ends; use it to give
// each service of a test stack its own schema.
func NewSchema(t *testing.T, url, prefix string) database.Config {
	t.Helper()
	cfg := database.Config{URL: url, Schema: prefix + "_" + randomHex(6)}
	t.Cleanup(func() { dropSchema(t, cfg) })
	return cfg
}

func dropSchema(t *testing.T, cfg database.Config) {
	ctx := context.Background()
	db, err := database.Open(ctx, database.Config{URL: cfg.URL}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Errorf("drop schema %s: %v", cfg.Schema, err)
		return
	}
	defer database.Close(db)
	if err := db.Exec(`DROP SCHEMA IF EXISTS "` + cfg.Schema + `" CASCADE`).Error; err != nil {
		t.Errorf("drop schema %s: %v", cfg.Schema, err)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Proxy stands between a service and PostgreSQL, so that a test can take the database
// away (Cut) and bring it back (Restore) as a restart or a network failure would.
type Proxy struct {
	t      testing.TB
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener
	conns []net.Conn
}

// ProxiedPostgres returns the config of a new schema, as Postgres does, reached through a
// Proxy. It returns false when no PostgreSQL is configured (and fails t when it is
// required).
func ProxiedPostgres(t *testing.T) (database.Config, *Proxy, bool) {
	t.Helper()
	cfg, ok := Postgres(t)
	if !ok {
		return cfg, nil, false
	}
	u, err := url.Parse(cfg.URL)
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{t: t, target: u.Host}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.Cut)
	u.Host = p.addr
	cfg.URL = u.String()
	return cfg, p, true
}

func (p *Proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
}

// Cut closes every connection through the proxy and refuses new ones.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// Restore accepts connections again, on the same address.
func (p *Proxy) Restore() {
	p.t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("restore the proxy on %s: %v", p.addr, err)
	}
	p.serve(ln)
}
