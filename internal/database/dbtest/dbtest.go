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
	"log/slog"
	"os"
	"path/filepath"
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
