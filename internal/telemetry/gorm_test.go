package telemetry_test

import (
	"strings"
	"testing"

	"github.com/libtnb/sqlite"
	"gorm.io/gorm"

	"github.com/ordersaga/ordersaga/internal/telemetry"
)

// The database counters count statements by kind and the rows that writes changed, from
// GORM's own calls and from raw SQL alike; a write that changed nothing adds no row.
func TestDatabaseCounters(t *testing.T) {
	tel := newTelemetry(t, telemetry.Config{})
	db, err := gorm.Open(sqlite.Open("file::memory:"), &gorm.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := tel.InstrumentGORM(db); err != nil {
		t.Fatal(err)
	}
	type row struct {
		ID   int `gorm:"primaryKey"`
		Name string
	}
	must := func(tx *gorm.DB) {
		t.Helper()
		if tx.Error != nil {
			t.Fatal(tx.Error)
		}
	}
	must(db.Exec("CREATE TABLE rows (id INTEGER PRIMARY KEY, name TEXT)"))
	must(db.Table("rows").Create(&[]row{{1, "a"}, {2, "b"}, {3, "c"}}))
	must(db.Exec("UPDATE rows SET name = 'x' WHERE id <= 2"))
	must(db.Exec("UPDATE rows SET name = 'y' WHERE id = 99")) // changes nothing
	must(db.Table("rows").Where("id = ?", 3).Delete(&row{}))
	var n int64
	must(db.Table("rows").Count(&n))

	body := scrape(t, tel)
	for _, want := range []string{
		`ordersaga_db_rows_written_total{statement="INSERT"} 3`,
		`ordersaga_db_rows_written_total{statement="UPDATE"} 2`,
		`ordersaga_db_rows_written_total{statement="DELETE"} 1`,
		`ordersaga_db_statements_total{statement="INSERT"} 1`,
		`ordersaga_db_statements_total{statement="UPDATE"} 2`,
		`ordersaga_db_statements_total{statement="SELECT"} 1`,
		`ordersaga_db_statements_total{statement="other"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("no %s in\n%s", want, grep(body, "ordersaga_db_"))
		}
	}
}

func grep(body, prefix string) string {
	var out []string
	for line := range strings.Lines(body) {
		if strings.HasPrefix(line, prefix) {
			out = append(out, strings.TrimSpace(line))
		}
	}
	return strings.Join(out, "\n")
}
