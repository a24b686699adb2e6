// Package database opens a service's GORM database: PostgreSQL when a URL is given, or
// else an embedded SQLite file through a pure-Go driver (no cgo).
//
// SQLite is opened in WAL mode with a busy timeout and with every transaction started as
// BEGIN IMMEDIATE, so that concurrent writers queue for the write lock instead of failing
// when they upgrade a read lock, and each of its connections keeps the statements it runs
// compiled (stmtcache.go). PostgreSQL can place each service in its own schema, which
// lets one database host all four services in development.
package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/logger"
	"modernc.org/sqlite"
)

// Config says where a service's data lives.
type Config struct {
	// URL is a PostgreSQL URL (postgres://...). Empty means SQLite at SQLitePath.
	URL string
	// Schema, with PostgreSQL, is the schema the service's tables live in; it is created
	// when missing. Empty means the URL's default search path.
	Schema string
	// SQLitePath is the SQLite file used when URL is empty. Its directory is created.
	SQLitePath string
}

// Driver names the database a Config selects: "postgres" or "sqlite".
func (c Config) Driver() string {
	if c.URL != "" {
		return "postgres"
	}
	return "sqlite"
}

// String describes the database without secrets, for logs.
func (c Config) String() string {
	if c.URL == "" {
		return "sqlite:" + c.SQLitePath
	}
	s := Redact(c.URL)
	if c.Schema != "" {
		s += " schema=" + c.Schema
	}
	return s
}

// Redact returns a database URL with its password masked.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.User == nil {
		return rawURL
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// Open opens the database of cfg and checks that it answers.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (*gorm.DB, error) {
	gcfg := &gorm.Config{
		TranslateError: true,
		Logger:         newLogger(log),
		NowFunc:        func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) },
	}
	var (
		db  *gorm.DB
		err error
	)
	if cfg.URL != "" {
		db, err = openPostgres(ctx, cfg, gcfg)
	} else {
		db, err = openSQLite(cfg, gcfg)
	}
	if err != nil {
		return nil, err
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", cfg, err)
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("reach %s: %w", cfg, err)
	}
	return db, nil
}

func openPostgres(ctx context.Context, cfg Config, gcfg *gorm.Config) (*gorm.DB, error) {
	dsn := cfg.URL
	if cfg.Schema != "" {
		if !schemaName.MatchString(cfg.Schema) {
			return nil, fmt.Errorf("invalid schema name %q", cfg.Schema)
		}
		if err := createSchema(ctx, cfg, gcfg); err != nil {
			return nil, err
		}
		u, err := url.Parse(cfg.URL)
		if err != nil {
			return nil, fmt.Errorf("parse database URL: %w", err)
		}
		q := u.Query()
		q.Set("search_path", cfg.Schema)
		u.RawQuery = q.Encode()
		dsn = u.String()
	}
	db, err := gorm.Open(postgres.Open(dsn), gcfg)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", cfg, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	sqlDB.SetMaxOpenConns(20)
	sqlDB.SetMaxIdleConns(10)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	return db, nil
}

func createSchema(ctx context.Context, cfg Config, gcfg *gorm.Config) error {
	db, err := gorm.Open(postgres.Open(cfg.URL), gcfg)
	if err != nil {
		return fmt.Errorf("open %s: %w", cfg, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}
	defer sqlDB.Close()
	if err := db.WithContext(ctx).Exec(`CREATE SCHEMA IF NOT EXISTS "` + cfg.Schema + `"`).Error; err != nil {
		// Two services starting together may race to create the same schema.
		if !errors.Is(err, gorm.ErrDuplicatedKey) && !strings.Contains(err.Error(), "already exists") {
			return fmt.Errorf("create schema %s: %w", cfg.Schema, err)
		}
	}
	return nil
}

func openSQLite(cfg Config, gcfg *gorm.Config) (*gorm.DB, error) {
	if cfg.SQLitePath == "" {
		return nil, errors.New("no database configured: set a PostgreSQL URL or a SQLite path")
	}
	if err := os.MkdirAll(filepath.Dir(cfg.SQLitePath), 0o755); err != nil {
		return nil, fmt.Errorf("create directory for %s: %w", cfg.SQLitePath, err)
	}
	connector, err := sqlite.NewConnector(sqliteDSN(cfg.SQLitePath))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", cfg, err)
	}
	// Switching a new file to WAL can answer SQLITE_BUSY at once, busy timeout or not,
	// when replicas open it together: try again for a few seconds. GORM closes the pool
	// of a failed open, so each try opens its own.
	for deadline := time.Now().Add(5 * time.Second); ; {
		// Each connection keeps its statements compiled (stmtcache.go).
		sqlDB := sql.OpenDB(stmtCacheConnector{connector})
		// SQLite has one writer; a few connections let reads proceed beside it in WAL mode.
		sqlDB.SetMaxOpenConns(4)
		sqlDB.SetMaxIdleConns(4)
		db, err := gorm.Open(newSQLiteDialector(sqlDB), gcfg)
		if err == nil {
			return db, nil
		}
		_ = sqlDB.Close()
		if !strings.Contains(err.Error(), "SQLITE_BUSY") || time.Now().After(deadline) {
			return nil, fmt.Errorf("open %s: %w", cfg, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sqliteDSN is the driver's DSN of the SQLite file at path, with the connection settings.
func sqliteDSN(path string) string {
	q := url.Values{}
	// The busy timeout first: the switch to WAL takes a lock that replicas opening the
	// same new file at once contend for, and without the timeout the loser fails at once.
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(ON)")
	q.Set("_txlock", "immediate")
	// How times are written and read back: the dialector's defaults, which the tables
	// were written with.
	q.Set("_time_format", "sqlite")
	q.Set("_texttotime", "1")
	q.Set("_inttotime", "1")
	return "file:" + path + "?" + q.Encode()
}

// Close closes db's connections.
func Close(db *gorm.DB) error {
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// slowQuery is how long a statement runs before it is logged as slow.
const slowQuery = time.Second

// newLogger routes GORM's warnings (slow queries, errors other than "not found") to log.
func newLogger(log *slog.Logger) logger.Interface {
	return warningsOnly{logger.NewSlogLogger(log, logger.Config{
		SlowThreshold:             slowQuery,
		LogLevel:                  logger.Warn,
		IgnoreRecordNotFoundError: true,
	})}
}

// warningsOnly passes GORM's statement traces on only when they are warnings. GORM's
// slog logger renders every statement with its arguments inlined before it decides
// whether to log it: 2 % of a service's CPU at load, for the lines it then drops.
type warningsOnly struct{ logger.Interface }

// LogMode keeps the filter up to Warn; at Info (db.Debug()) every statement is logged.
func (l warningsOnly) LogMode(level logger.LogLevel) logger.Interface {
	if level >= logger.Info {
		return l.Interface.LogMode(level)
	}
	return warningsOnly{l.Interface.LogMode(level)}
}

// Trace logs a statement that failed (other than finding nothing) or ran slow.
func (l warningsOnly) Trace(ctx context.Context, begin time.Time, fc func() (string, int64), err error) {
	if (err != nil && !errors.Is(err, gorm.ErrRecordNotFound)) || time.Since(begin) > slowQuery {
		l.Interface.Trace(ctx, begin, fc, err)
	}
}

// Migrate runs fn, a service's schema migration and seeding, in one transaction. On
// PostgreSQL the transaction first takes an advisory lock named after the service, so
// that replicas starting together migrate one after the other instead of failing on each
// other's CREATE TABLE; on SQLite the transaction holds the write lock anyway.
func Migrate(ctx context.Context, db *gorm.DB, service string, fn func(tx *gorm.DB) error) error {
	return db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if tx.Dialector.Name() == "postgres" {
			if err := tx.Exec("SELECT pg_advisory_xact_lock(hashtext(?))", "ordersaga-migrate-"+service).Error; err != nil {
				return fmt.Errorf("lock for migration: %w", err)
			}
		}
		return fn(tx)
	})
}

// Take loads the row of T whose column equals key, or returns an error wrapping notFound
// ("order_id o-1: not found") when there is none.
func Take[T any](tx *gorm.DB, column string, key any, notFound error) (T, error) {
	var row T
	err := tx.Take(&row, column+" = ?", key).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return row, fmt.Errorf("%s %v: %w", column, key, notFound)
	}
	if err != nil {
		return row, fmt.Errorf("read %s %v: %w", column, key, err)
	}
	return row, nil
}

// Lock is Take with the row locked until the transaction ends (FOR UPDATE on PostgreSQL;
// SQLite's write transaction holds the whole database already). A store decides what
// becomes of the row while it holds the lock, so that two requests for one row are
// decided one after the other.
func Lock[T any](tx *gorm.DB, column string, key any, notFound error) (T, error) {
	return Take[T](tx.Clauses(clause.Locking{Strength: "UPDATE"}), column, key, notFound)
}

// Ping returns a readiness check of db: nil when the database answers.
func Ping(db *gorm.DB) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		sqlDB, err := db.DB()
		if err != nil {
			return err
		}
		return sqlDB.PingContext(ctx)
	}
}
