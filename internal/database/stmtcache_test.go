package database

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"modernc.org/sqlite"
)

type cacheRow struct {
	ID    string `gorm:"primaryKey;size:36"`
	Count int    `gorm:"not null"`
}

// openCacheTest opens a SQLite database the way the services do, with its one table.
func openCacheTest(t testing.TB) *gorm.DB {
	t.Helper()
	ctx := context.Background()
	db, err := Open(ctx, Config{SQLitePath: filepath.Join(t.TempDir(), "cache.db")}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = Close(db) })
	if err := db.AutoMigrate(&cacheRow{}); err != nil {
		t.Fatal(err)
	}
	return db
}

// cacheCounts returns the statement cache's hits and misses on one connection of db,
// which the test pins to one connection.
func cacheCounts(t *testing.T, db *gorm.DB) (hits, misses int) {
	t.Helper()
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := sqlDB.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		c, ok := dc.(*stmtCacheConn)
		if !ok {
			return fmt.Errorf("the driver connection is a %T, not the statement cache's", dc)
		}
		hits, misses = c.hits, c.misses
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hits, misses
}

// The statements of a transaction run again in the next transaction from the cache,
// with their new arguments, and a statement whose rows are still open is run beside
// them, not from under them.
func TestSQLiteStatementCache(t *testing.T) {
	db := openCacheTest(t)
	sqlDB, _ := db.DB()
	sqlDB.SetMaxOpenConns(1) // one connection: every statement meets the same cache
	ctx := context.Background()

	_, missesBefore := cacheCounts(t, db)
	const n = 20
	for i := range n {
		err := Tx(ctx, db, func(tx *gorm.DB) error {
			id := fmt.Sprintf("row-%d", i)
			if err := tx.Create(&cacheRow{ID: id, Count: i}).Error; err != nil {
				return err
			}
			var got cacheRow
			if err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Take(&got, "id = ?", id).Error; err != nil {
				return err
			}
			if got.Count != i {
				return fmt.Errorf("read %d back as %d", i, got.Count)
			}
			return tx.Model(&cacheRow{}).Where("id = ?", id).Update("count", i*10).Error
		})
		if err != nil {
			t.Fatalf("transaction %d: %v", i, err)
		}
	}
	hits, misses := cacheCounts(t, db)
	if newMisses := misses - missesBefore; newMisses > 4 {
		t.Errorf("%d statements compiled for %d transactions of three statements each; want each compiled once", newMisses, n)
	}
	if hits < 3*(n-1) {
		t.Errorf("cache hits = %d, want at least %d (every statement after the first transaction)", hits, 3*(n-1))
	}

	// The updates landed, each with its own arguments.
	var rows []cacheRow
	if err := db.Order("count").Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	if len(rows) != n || rows[0].Count != 0 || rows[n-1].Count != (n-1)*10 {
		t.Fatalf("rows = %+v, want %d rows with count = 10 × their number", rows, n)
	}
}

// The same statement run again while the cache's copy has its rows open runs apart, and
// each gives its own rows.
func TestSQLiteStatementCacheBusyStatement(t *testing.T) {
	db := openCacheTest(t)
	ctx := context.Background()
	for i := range 3 {
		if err := db.Create(&cacheRow{ID: fmt.Sprintf("row-%d", i), Count: i}).Error; err != nil {
			t.Fatal(err)
		}
	}
	sqlDB, _ := db.DB()
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	counts := func() (hits, misses int) {
		_ = conn.Raw(func(dc any) error {
			c := dc.(*stmtCacheConn)
			hits, misses = c.hits, c.misses
			return nil
		})
		return hits, misses
	}
	const q = "SELECT count FROM cache_rows WHERE count >= ? ORDER BY count"
	scan := func(rows *sql.Rows) []int {
		t.Helper()
		var got []int
		for rows.Next() {
			var c int
			if err := rows.Scan(&c); err != nil {
				t.Fatal(err)
			}
			got = append(got, c)
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		return got
	}
	first, err := conn.QueryContext(ctx, q, 1) // compiled and kept, its rows open
	if err != nil {
		t.Fatal(err)
	}
	hits, misses := counts()
	second, err := conn.QueryContext(ctx, q, 0) // the kept statement is busy
	if err != nil {
		t.Fatal(err)
	}
	if h, m := counts(); h != hits || m != misses {
		t.Errorf("the second run was answered from the cache (hits %d → %d, misses %d → %d)", hits, h, misses, m)
	}
	if got := scan(second); fmt.Sprint(got) != "[0 1 2]" {
		t.Errorf("second query = %v, want [0 1 2]", got)
	}
	if got := scan(first); fmt.Sprint(got) != "[1 2]" {
		t.Errorf("first query = %v, want [1 2]", got)
	}
	var c int
	if err := conn.QueryRowContext(ctx, q, 2).Scan(&c); err != nil || c != 2 {
		t.Fatalf("the statement after its rows closed: %d, %v; want 2", c, err)
	}
	if h, _ := counts(); h != hits+1 {
		t.Errorf("hits = %d after the rows closed, want %d: the kept statement is free again", h, hits+1)
	}
}

// A kept statement sees a column added by a later migration.
func TestSQLiteStatementCacheAfterSchemaChange(t *testing.T) {
	db := openCacheTest(t)
	sqlDB, _ := db.DB()
	sqlDB.SetMaxOpenConns(1)
	ctx := context.Background()
	if err := db.Create(&cacheRow{ID: "a", Count: 1}).Error; err != nil {
		t.Fatal(err)
	}
	columns := func() int {
		rows, err := sqlDB.QueryContext(ctx, "SELECT * FROM cache_rows")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		cols, err := rows.Columns()
		if err != nil {
			t.Fatal(err)
		}
		return len(cols)
	}
	if n := columns(); n != 2 {
		t.Fatalf("columns = %d, want 2", n)
	}
	if _, err := sqlDB.ExecContext(ctx, "ALTER TABLE cache_rows ADD COLUMN note TEXT"); err != nil {
		t.Fatal(err)
	}
	if n := columns(); n != 3 {
		t.Fatalf("columns after the migration = %d, want 3", n)
	}
}

// No more than stmtCacheSize statements are kept per connection.
func TestSQLiteStatementCacheIsBounded(t *testing.T) {
	db := openCacheTest(t)
	sqlDB, _ := db.DB()
	sqlDB.SetMaxOpenConns(1)
	ctx := context.Background()
	for i := range 3 * stmtCacheSize {
		// Each IN list's length is a statement of its own.
		ids := make([]string, i+1)
		for j := range ids {
			ids[j] = fmt.Sprint(j)
		}
		var rows []cacheRow
		if err := db.WithContext(ctx).Where("id IN ?", ids).Find(&rows).Error; err != nil {
			t.Fatal(err)
		}
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		if n := len(dc.(*stmtCacheConn).stmts); n > stmtCacheSize {
			return fmt.Errorf("%d statements kept, want at most %d", n, stmtCacheSize)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// BenchmarkSQLiteStatementCache runs a service's typical write (a transaction that
// inserts a row, reads it back for update and updates it) on two databases that differ
// only in the statement cache, alternating between them, and reports the time per
// transaction of each and their ratio.
func BenchmarkSQLiteStatementCache(b *testing.B) {
	ctx := context.Background()
	open := func(cached bool) *gorm.DB {
		path := filepath.Join(b.TempDir(), "bench.db")
		db, err := Open(ctx, Config{SQLitePath: path}, slog.New(slog.DiscardHandler))
		if err != nil {
			b.Fatal(err)
		}
		if !cached {
			// The same database through the driver's own connections.
			_ = Close(db)
			connector, err := sqlite.NewConnector(sqliteDSN(path))
			if err != nil {
				b.Fatal(err)
			}
			sqlDB := sql.OpenDB(connector)
			sqlDB.SetMaxOpenConns(4)
			sqlDB.SetMaxIdleConns(4)
			if db, err = gorm.Open(newSQLiteDialector(sqlDB), &gorm.Config{}); err != nil {
				b.Fatal(err)
			}
		}
		b.Cleanup(func() { _ = Close(db) })
		if err := db.AutoMigrate(&cacheRow{}); err != nil {
			b.Fatal(err)
		}
		return db
	}
	dbs := [2]*gorm.DB{open(false), open(true)}
	var took [2]time.Duration
	write := func(db *gorm.DB, i int) {
		err := Tx(ctx, db, func(tx *gorm.DB) error {
			id := fmt.Sprintf("row-%d", i)
			if err := tx.Create(&cacheRow{ID: id, Count: i}).Error; err != nil {
				return err
			}
			var got cacheRow
			if err := tx.Take(&got, "id = ?", id).Error; err != nil {
				return err
			}
			return tx.Model(&cacheRow{}).Where("id = ?", id).Update("count", i+1).Error
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := range b.N {
		for k := range 2 {
			k := (k + i) % 2 // alternate which goes first
			start := time.Now()
			write(dbs[k], i)
			took[k] += time.Since(start)
		}
	}
	b.ReportMetric(float64(took[0].Microseconds())/float64(b.N), "µs/tx-uncached")
	b.ReportMetric(float64(took[1].Microseconds())/float64(b.N), "µs/tx-cached")
	b.ReportMetric(float64(took[1])/float64(took[0]), "cached/uncached")
}
