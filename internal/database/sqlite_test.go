package database

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

type sizedRow struct {
	ID   string `gorm:"primaryKey;size:36"`
	Name string `gorm:"size:64;not null"`
}

// statementLog records the SQL that GORM runs.
type statementLog struct {
	logger.Interface
	mu  sync.Mutex
	sql []string
}

func (l *statementLog) Trace(_ context.Context, _ time.Time, fc func() (string, int64), _ error) {
	sql, _ := fc()
	l.mu.Lock()
	l.sql = append(l.sql, sql)
	l.mu.Unlock()
}

// A table whose columns did not change is left as it is when the service starts again
// over its rows: the migration runs no DDL (and so does not wait, on a second connection,
// for its own transaction).
func TestSQLiteMigrationLeavesAnUnchangedTableAlone(t *testing.T) {
	ctx := context.Background()
	cfg := Config{SQLitePath: filepath.Join(t.TempDir(), "sized.db")}
	migrate := func(db *gorm.DB) error {
		return Migrate(ctx, db, "sized", func(tx *gorm.DB) error { return tx.AutoMigrate(&sizedRow{}) })
	}
	first, err := Open(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(first); err != nil {
		t.Fatal(err)
	}
	if err := first.Create(&sizedRow{ID: "a", Name: "b"}).Error; err != nil {
		t.Fatal(err)
	}
	if err := Close(first); err != nil {
		t.Fatal(err)
	}

	again, err := Open(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer Close(again)
	log := &statementLog{Interface: logger.Discard}
	if err := migrate(again.Session(&gorm.Session{Logger: log})); err != nil {
		t.Fatalf("migrate again: %v", err)
	}
	for _, sql := range log.sql {
		if s := strings.ToUpper(sql); strings.Contains(s, "CREATE TABLE") || strings.Contains(s, "ALTER TABLE") || strings.Contains(s, "DROP TABLE") {
			t.Errorf("migrating an unchanged table ran %q", sql)
		}
	}
	if len(log.sql) == 0 {
		t.Error("no statement recorded: the log saw nothing of the migration")
	}
}
