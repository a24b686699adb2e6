package database

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"

	"github.com/ordersaga/ordersaga/internal/httpx"
	"github.com/ordersaga/ordersaga/internal/retry"
)

// Unavailable returns err wrapped with httpx.ErrUnavailable when it says the database
// could not be reached or could not answer now (a lost connection, a server shutting
// down or restarting, too many connections, a timeout, SQLite busy), so that the service
// answers 503 with Retry-After and its caller tries again; other errors (nil included) are
// returned as they are.
func Unavailable(err error) error {
	if err == nil || errors.Is(err, httpx.ErrUnavailable) || !transient(err) {
		return err
	}
	return fmt.Errorf("%w: the database: %v", httpx.ErrUnavailable, err)
}

func transient(err error) bool {
	var (
		pgErr   *pgconn.PgError
		connErr *pgconn.ConnectError
		netErr  net.Error
	)
	switch {
	case errors.As(err, &pgErr):
		// Class 08: connection exception; 57P01-03: the server is shutting down or
		// starting; 53300: too many connections; 57014: the statement was cancelled.
		return strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "57P01" || pgErr.Code == "57P02" ||
			pgErr.Code == "57P03" || pgErr.Code == "53300" || pgErr.Code == "57014"
	case errors.As(err, &connErr), errors.As(err, &netErr),
		errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		errors.Is(err, context.DeadlineExceeded):
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "conn closed") || strings.Contains(msg, "connection reset") ||
		strings.Contains(msg, "broken pipe") || strings.Contains(msg, "database is locked")
}

// Tx runs fn in a transaction of db, and maps a lost database to httpx.ErrUnavailable. The
// stores run every write through it.
func Tx(ctx context.Context, db *gorm.DB, fn func(tx *gorm.DB) error) error {
	return Unavailable(db.WithContext(ctx).Transaction(fn))
}

// Read runs fn, a read, again while the database is unavailable, for up to retry.Budget,
// so that a restart of the database of a second or two does not reach the caller. It
// returns fn's last error, a lost database mapped to httpx.ErrUnavailable.
func Read(ctx context.Context, fn func() error) error {
	return retry.Within(ctx, retry.Budget, func(err error) bool { return errors.Is(err, httpx.ErrUnavailable) },
		func() error { return Unavailable(fn()) })
}

// Get is Take outside a transaction, as a read: retried while the database is
// unavailable (see Read).
func Get[T any](ctx context.Context, db *gorm.DB, column string, key any, notFound error) (T, error) {
	var row T
	err := Read(ctx, func() (err error) {
		row, err = Take[T](db.WithContext(ctx), column, key, notFound)
		return err
	})
	return row, err
}
