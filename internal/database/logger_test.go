package database

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// GORM's statement traces reach the log only when they are warnings, and only those are
// rendered: a fast statement that succeeded (or found nothing) costs no SQL rendering.
func TestLoggerRendersOnlyTheStatementsItLogs(t *testing.T) {
	var buf bytes.Buffer
	l := newLogger(slog.New(slog.NewTextHandler(&buf, nil)))
	ctx := context.Background()
	rendered := 0
	stmt := func(sql string) func() (string, int64) {
		return func() (string, int64) { rendered++; return sql, 1 }
	}

	l.Trace(ctx, time.Now(), stmt("SELECT 'fast'"), nil)
	l.Trace(ctx, time.Now(), stmt("SELECT 'none'"), gorm.ErrRecordNotFound)
	if rendered != 0 || buf.Len() != 0 {
		t.Fatalf("quiet statements: rendered %d, logged %q", rendered, buf.String())
	}

	l.Trace(ctx, time.Now(), stmt("SELECT 'failed'"), errors.New("disk I/O error"))
	l.Trace(ctx, time.Now().Add(-2*slowQuery), stmt("SELECT 'slow'"), nil)
	for _, want := range []string{"SELECT 'failed'", "disk I/O error", "SELECT 'slow'"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, buf.String())
		}
	}

	buf.Reset()
	l.LogMode(logger.Info).Trace(ctx, time.Now(), stmt("SELECT 'debug'"), nil)
	if !strings.Contains(buf.String(), "SELECT 'debug'") {
		t.Errorf("at Info (db.Debug()) every statement is logged; got %q", buf.String())
	}
}
