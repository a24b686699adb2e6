package database

import (
	"context"
	"database/sql/driver"
	"errors"
	"strings"
)

// SQLite parses every statement it runs. Through database/sql a query on the *sql.DB or
// on a transaction reaches the driver as ExecContext or QueryContext on the connection,
// and the driver prepares (parses and compiles) the SQL, runs it once and finalizes it.
// Under load that parsing was an eighth of the services' CPU time. GORM's PrepareStmt
// does not help: it prepares a transaction's statements on the *sql.Tx, and database/sql
// prepares those again in every transaction, and every write is in one.
//
// stmtCacheConnector keeps, for each connection, the statements it ran most recently,
// compiled, and runs a repeated one again from there. SQLite statements belong to a
// connection, not to a transaction, so one compiled statement serves every transaction
// on its connection; SQLite recompiles it by itself when a migration changes the schema.

// stmtCacheSize is how many statements each connection keeps. The services' statements
// are few (GORM builds the same SQL for the same call); an IN list's every length is a
// statement of its own, and the bound keeps those from piling up.
const stmtCacheSize = 64

// stmtCacheConnector opens connections that keep their statements compiled.
type stmtCacheConnector struct {
	driver.Connector
}

// Connect opens a connection of the wrapped connector and gives it a statement cache.
func (c stmtCacheConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	full, ok := conn.(sqliteConn)
	if !ok {
		// A driver connection without the methods database/sql looks for: use it as is.
		return conn, nil
	}
	return &stmtCacheConn{sqliteConn: full, stmts: make(map[string]*cachedStmt)}, nil
}

// sqliteConn is what a connection of modernc.org/sqlite implements and database/sql
// uses. The wrapper forwards all of it, so that database/sql treats the wrapped
// connection exactly as it treated the driver's.
type sqliteConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// sqliteStmt is what the cache needs of a compiled statement.
type sqliteStmt interface {
	driver.Stmt
	driver.StmtExecContext
	driver.StmtQueryContext
}

// sqliteRows is what the driver's rows implement and database/sql uses.
type sqliteRows interface {
	driver.Rows
	driver.RowsColumnTypeDatabaseTypeName
	driver.RowsColumnTypeLength
	driver.RowsColumnTypeNullable
	driver.RowsColumnTypePrecisionScale
	driver.RowsColumnTypeScanType
}

// stmtCacheConn is a driver connection with its compiled statements. database/sql uses a
// connection from one goroutine at a time (rows are closed under the same lock), so the
// cache needs no lock of its own.
type stmtCacheConn struct {
	sqliteConn
	stmts map[string]*cachedStmt
	// hits and misses count the cache's answers (the tests read them).
	hits, misses int
}

// cachedStmt is a compiled statement; busy while its rows are open.
type cachedStmt struct {
	stmt sqliteStmt
	busy bool
}

// Unwrap returns the driver's connection.
func (c *stmtCacheConn) Unwrap() driver.Conn { return c.sqliteConn }

// ExecContext runs query from the cache when it can, and through the driver otherwise.
func (c *stmtCacheConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	s, err := c.stmt(ctx, query)
	if err != nil || s == nil {
		return c.sqliteConn.ExecContext(ctx, query, args)
	}
	s.busy = true
	defer func() { s.busy = false }()
	return s.stmt.ExecContext(ctx, args)
}

// QueryContext runs query from the cache when it can, and through the driver otherwise.
// The statement stays taken until its rows are closed.
func (c *stmtCacheConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	s, err := c.stmt(ctx, query)
	if err != nil || s == nil {
		return c.sqliteConn.QueryContext(ctx, query, args)
	}
	rows, err := s.stmt.QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	full, ok := rows.(sqliteRows)
	if !ok { // not the driver's rows: give the statement up to them
		_ = rows.Close()
		c.evict(query, s)
		return c.sqliteConn.QueryContext(ctx, query, args)
	}
	s.busy = true
	return &cachedRows{sqliteRows: full, conn: c, query: query, stmt: s}, nil
}

// stmt returns query's compiled statement, compiling and keeping it on first use. It
// returns nil for a statement it does not keep (more than one statement, or schema
// changes and settings, which run once) and for one whose rows are still open.
func (c *stmtCacheConn) stmt(ctx context.Context, query string) (*cachedStmt, error) {
	if s, ok := c.stmts[query]; ok {
		if s.busy {
			return nil, nil
		}
		c.hits++
		return s, nil
	}
	if !cacheable(query) {
		return nil, nil
	}
	c.misses++
	if len(c.stmts) >= stmtCacheSize {
		for q, s := range c.stmts { // any one that is not running
			if !s.busy {
				_ = s.stmt.Close()
				delete(c.stmts, q)
				break
			}
		}
	}
	ds, err := c.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	st, ok := ds.(sqliteStmt)
	if !ok {
		return nil, errors.Join(errors.New("the driver's statement has no context methods"), ds.Close())
	}
	s := &cachedStmt{stmt: st}
	c.stmts[query] = s
	return s, nil
}

// evict drops s, query's statement.
func (c *stmtCacheConn) evict(query string, s *cachedStmt) {
	if c.stmts[query] == s {
		_ = s.stmt.Close()
		delete(c.stmts, query)
	}
}

// Close finalizes the kept statements, then closes the connection.
func (c *stmtCacheConn) Close() error {
	var errs []error
	for q, s := range c.stmts {
		errs = append(errs, s.stmt.Close())
		delete(c.stmts, q)
	}
	return errors.Join(append(errs, c.sqliteConn.Close())...)
}

// cacheable reports whether query is one statement that reads or writes rows: the kind a
// service runs again and again.
func cacheable(query string) bool {
	q := strings.TrimSpace(query)
	if strings.Contains(q, ";") {
		return false
	}
	verb, _, _ := strings.Cut(q, " ")
	switch strings.ToUpper(verb) {
	case "SELECT", "INSERT", "UPDATE", "DELETE", "WITH":
		return true
	}
	return false
}

// cachedRows are a cached statement's rows; closing them frees the statement.
type cachedRows struct {
	sqliteRows
	conn  *stmtCacheConn
	query string
	stmt  *cachedStmt
}

// Close closes the rows, which resets the statement for its next run, and frees the
// statement; one that could not be reset is dropped.
func (r *cachedRows) Close() error {
	err := r.sqliteRows.Close()
	r.stmt.busy = false
	if err != nil {
		r.conn.evict(r.query, r.stmt)
	}
	return err
}
