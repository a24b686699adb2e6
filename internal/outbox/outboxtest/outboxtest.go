// Package outboxtest checks what a service wrote into its outbox, for the services'
// tests: which events an order has, that no event ID repeats, and what becomes of a
// change whose event cannot be written.
package outboxtest

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"

	"gorm.io/gorm"

	"github.com/ordersaga/ordersaga/internal/outbox"
)

// Want fails t unless the outbox of db holds exactly events of the given types for
// orderID, oldest first, each written by service for that order at the current schema
// version, with an ID and a time. It returns the events.
func Want(t testing.TB, db *gorm.DB, service, orderID string, types ...string) []outbox.Event {
	t.Helper()
	events, err := outbox.Events(context.Background(), db, orderID)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]string, len(events))
	for i, e := range events {
		got[i] = e.Type
		if e.OrderID != orderID || e.Service != service || e.SchemaVersion != outbox.SchemaVersion || e.ID == "" || e.OccurredAt.IsZero() {
			t.Errorf("event %s of %s = %+v; want order %s, service %s, schema version %d, an ID and a time",
				e.Type, orderID, e, orderID, service, outbox.SchemaVersion)
		}
	}
	if types == nil {
		types = []string{}
	}
	if !slices.Equal(got, types) {
		t.Fatalf("events of %s = %v, want %v", orderID, got, types)
	}
	return events
}

// Count counts the events of every order in the outbox of db, and fails t unless each
// has its own ID.
func Count(t testing.TB, db *gorm.DB) int {
	t.Helper()
	events, err := outbox.Events(context.Background(), db, "")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range events {
		if seen[e.ID] {
			t.Errorf("event ID %s appears twice", e.ID)
		}
		seen[e.ID] = true
	}
	return len(events)
}

// FailWrites makes each write to the outbox of db fail, after its row was inserted,
// while the returned switch is on, so that the transaction writing it rolls back.
func FailWrites(t testing.TB, db *gorm.DB) *atomic.Bool {
	t.Helper()
	var on atomic.Bool
	err := db.Callback().Create().After("gorm:create").Register("test:fail_outbox", func(tx *gorm.DB) {
		if on.Load() && tx.Statement.Table == "outbox" {
			_ = tx.AddError(errors.New("test: the outbox write fails"))
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return &on
}
