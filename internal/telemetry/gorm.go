package telemetry

import (
	"errors"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"gorm.io/gorm"
)

// InstrumentGORM makes each SQL statement run through db a client span, a child of the
// span in the statement's context (db.WithContext), with the statement's text (its
// parameters left out) and the rows it affected; a statement outside any recorded span (a
// migration, the outbox relay's polling, any statement of a process that exports no
// spans) makes none, as a trace of one statement would tell nobody anything and cost
// every poll a span. It also counts the statements,
// ordersaga_db_statements_total{statement}, and the rows they wrote,
// ordersaga_db_rows_written_total{statement} (INSERT, UPDATE, DELETE), which is what an
// order costs the database. Call it once per process's database.
func (t *Telemetry) InstrumentGORM(db *gorm.DB) error {
	statements := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ordersaga_db_statements_total", Help: "SQL statements run, by kind (SELECT, INSERT, UPDATE, DELETE, other).",
	}, []string{"statement"})
	written := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ordersaga_db_rows_written_total", Help: "Rows inserted, updated or deleted, by statement kind.",
	}, []string{"statement"})
	if err := errors.Join(t.Registry.Register(statements), t.Registry.Register(written)); err != nil {
		return err
	}
	tracer := t.Tracers.Tracer("gorm.io/gorm")
	system := db.Dialector.Name()
	before := func(op string) func(*gorm.DB) {
		return func(tx *gorm.DB) {
			if !trace.SpanFromContext(tx.Statement.Context).IsRecording() {
				return
			}
			ctx, _ := tracer.Start(tx.Statement.Context, "SQL "+op, trace.WithSpanKind(trace.SpanKindClient),
				trace.WithAttributes(attribute.String("db.system.name", system)))
			tx.Statement.Context = ctx
		}
	}
	after := func(tx *gorm.DB) {
		kind := statementKind(tx.Statement.SQL.String())
		statements.WithLabelValues(kind).Inc()
		if tx.Error == nil && tx.Statement.RowsAffected > 0 && (kind == "INSERT" || kind == "UPDATE" || kind == "DELETE") {
			written.WithLabelValues(kind).Add(float64(tx.Statement.RowsAffected))
		}
		span := trace.SpanFromContext(tx.Statement.Context)
		if !span.IsRecording() {
			return
		}
		span.SetAttributes(
			attribute.String("db.query.text", strings.TrimSpace(tx.Statement.SQL.String())),
			attribute.Int64("db.response.affected_rows", tx.Statement.RowsAffected),
		)
		if err := tx.Error; err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}
	cb := db.Callback()
	for _, hook := range []struct {
		op  string
		reg func(string, func(*gorm.DB)) error
		end func(string, func(*gorm.DB)) error
	}{
		{"INSERT", cb.Create().Before("gorm:create").Register, cb.Create().After("gorm:create").Register},
		{"SELECT", cb.Query().Before("gorm:query").Register, cb.Query().After("gorm:query").Register},
		{"UPDATE", cb.Update().Before("gorm:update").Register, cb.Update().After("gorm:update").Register},
		{"DELETE", cb.Delete().Before("gorm:delete").Register, cb.Delete().After("gorm:delete").Register},
		{"ROW", cb.Row().Before("gorm:row").Register, cb.Row().After("gorm:row").Register},
		{"RAW", cb.Raw().Before("gorm:raw").Register, cb.Raw().After("gorm:raw").Register},
	} {
		name := "ordersaga:trace_" + strings.ToLower(hook.op)
		if err := errors.Join(hook.reg(name+"_start", before(hook.op)), hook.end(name+"_end", after)); err != nil {
			return err
		}
	}
	return nil
}

// statementKind is the SQL statement's verb: SELECT, INSERT, UPDATE, DELETE, or other.
func statementKind(sql string) string {
	verb, _, _ := strings.Cut(strings.TrimSpace(sql), " ")
	switch v := strings.ToUpper(verb); v {
	case "SELECT", "INSERT", "UPDATE", "DELETE":
		return v
	case "WITH":
		return "SELECT"
	}
	return "other"
}
