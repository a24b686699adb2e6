package database

import (
	"database/sql"

	"github.com/libtnb/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/migrator"
)

// sqliteDialector is the SQLite dialector (github.com/libtnb/sqlite, on the current
// modernc.org/sqlite) with a migrator that compares a column's length with the one its
// table declares, and with nothing else.
//
// The driver reports every TEXT column of a table that holds rows as unbounded. GORM
// compares that with a string field's size (the `size:36` that PostgreSQL makes a
// varchar(36), and SQLite's DDL leaves TEXT) and rebuilds the table at every start, on a
// second connection that then waits for the migration's own transaction. The declared
// length is the one a migration can change; SQLite enforces none.
type sqliteDialector struct {
	*sqlite.Dialector
}

func newSQLiteDialector(conn gorm.ConnPool) sqliteDialector {
	return sqliteDialector{sqlite.New(sqlite.Config{Conn: conn}).(*sqlite.Dialector)}
}

// Migrator returns the dialector's migrator with declared column lengths.
func (d sqliteDialector) Migrator(db *gorm.DB) gorm.Migrator {
	return declaredLengths{d.Dialector.Migrator(db)}
}

type declaredLengths struct {
	gorm.Migrator
}

// ColumnTypes returns the table's columns, each with the length its DDL declares: a
// column declared without one (TEXT) reports 0, as it did before the driver said more.
func (m declaredLengths) ColumnTypes(value any) ([]gorm.ColumnType, error) {
	cols, err := m.Migrator.ColumnTypes(value)
	for i, c := range cols {
		if col, ok := c.(migrator.ColumnType); ok && !col.LengthValue.Valid {
			col.LengthValue = sql.NullInt64{Valid: true}
			cols[i] = col
		}
	}
	return cols, err
}
