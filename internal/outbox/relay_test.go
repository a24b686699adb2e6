package outbox_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"gorm.io/gorm"

	"github.com/ordersaga/ordersaga/internal/database"
	"github.com/ordersaga/ordersaga/internal/database/dbtest"
	"github.com/ordersaga/ordersaga/internal/natsx"
	"github.com/ordersaga/ordersaga/internal/outbox"
	"github.com/ordersaga/ordersaga/internal/servicetest"
)

var quiet = slog.New(slog.DiscardHandler)

// bus is an embedded NATS server the test can stop and start again on the same port and
// store, and a client connection to it.
type bus struct {
	t    *testing.T
	port int
	dir  string
	srv  *natsx.Embedded
	js   jetstream.JetStream
}

func newBus(t *testing.T) *bus {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	b := &bus{t: t, port: port, dir: filepath.Join(t.TempDir(), "nats")}
	b.start()
	nc, err := natsx.Connect(b.srv.URL(), "test", quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close(); b.stop() })
	if b.js, err = jetstream.New(nc); err != nil {
		t.Fatal(err)
	}
	return b
}

func (b *bus) start() {
	b.t.Helper()
	srv, err := natsx.StartEmbedded("127.0.0.1", b.port, b.dir, quiet)
	if err != nil {
		b.t.Fatal(err)
	}
	b.srv = srv
}

func (b *bus) stop() {
	if b.srv != nil {
		b.srv.Shutdown()
		b.srv = nil
	}
}

// events reads the whole stream.
func (b *bus) events(ctx context.Context) []outbox.Event {
	b.t.Helper()
	var got []outbox.Event
	if err := outbox.Consume(ctx, b.js, false, func(ev outbox.Event) error { got = append(got, ev); return nil }); err != nil {
		b.t.Fatalf("consume: %v", err)
	}
	return got
}

// migrated opens the database of cfg with an outbox table.
func migrated(t *testing.T, cfg database.Config) *gorm.DB {
	t.Helper()
	db := servicetest.Open(t, cfg)
	if err := outbox.Migrate(db); err != nil {
		t.Fatal(err)
	}
	return db
}

// write adds one event per order in its own transaction: o-<i> gets event "E<n>".
func write(t *testing.T, db *gorm.DB, orderID, typ string) {
	t.Helper()
	if err := db.Transaction(func(tx *gorm.DB) error {
		return outbox.Add(tx, "test", typ, orderID, map[string]string{"orderId": orderID})
	}); err != nil {
		t.Fatal(err)
	}
}

// run starts a relay of db and returns a function stopping it.
func run(t *testing.T, db *gorm.DB, js jetstream.JetStream, reg prometheus.Registerer) (stop func()) {
	t.Helper()
	r, err := outbox.NewRelay(db, js, "test", quiet, reg, outbox.RelayOptions{Poll: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, Batch: 7})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	return func() { cancel(); <-done }
}

// drained waits until db's outbox has nothing left to publish.
func drained(t *testing.T, db *gorm.DB) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		n, err := outbox.Backlog(context.Background(), db)
		if err == nil && n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbox backlog still %d (err %v) after 30s", n, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// sequences groups events by order, in the order read, and fails on a repeated ID.
func sequences(t *testing.T, events []outbox.Event) map[string][]string {
	t.Helper()
	seen := map[string]bool{}
	out := map[string][]string{}
	for _, ev := range events {
		if seen[ev.ID] {
			t.Errorf("event %s (%s of %s) delivered twice", ev.ID, ev.Type, ev.OrderID)
		}
		seen[ev.ID] = true
		out[ev.OrderID] = append(out[ev.OrderID], ev.Type)
	}
	return out
}

func TestRelayPublishesCommittedEventsInOrderOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, cfg database.Config) {
		ctx := context.Background()
		b := newBus(t)
		db := migrated(t, cfg)
		for i := range 20 {
			write(t, db, fmt.Sprintf("o-%d", i%3), fmt.Sprintf("E%02d", i))
		}
		// A rolled-back transaction leaves no event.
		_ = db.Transaction(func(tx *gorm.DB) error {
			if err := outbox.Add(tx, "test", "Lost", "o-0", nil); err != nil {
				t.Fatal(err)
			}
			return fmt.Errorf("roll back")
		})
		stop := run(t, db, b.js, prometheus.NewRegistry())
		drained(t, db)
		stop()

		events := b.events(ctx)
		got := sequences(t, events)
		for o := range 3 {
			var want []string
			for i := o; i < 20; i += 3 {
				want = append(want, fmt.Sprintf("E%02d", i))
			}
			if fmt.Sprint(got[fmt.Sprintf("o-%d", o)]) != fmt.Sprint(want) {
				t.Errorf("o-%d: got %v, want %v", o, got[fmt.Sprintf("o-%d", o)], want)
			}
		}
		if len(events) != 20 {
			t.Errorf("stream holds %d events, want 20", len(events))
		}
		ev := events[0]
		if ev.Service != "test" || ev.SchemaVersion != outbox.SchemaVersion || string(ev.Body) != `{"orderId":"o-0"}` || ev.OccurredAt.IsZero() {
			t.Errorf("first event = %+v", ev)
		}

		// A relay that died after publishing and before marking publishes again: the
		// stream drops the copies by their IDs.
		if err := db.Exec("UPDATE outbox SET published_at = NULL").Error; err != nil {
			t.Fatal(err)
		}
		write(t, db, "o-1", "E20")
		stop = run(t, db, b.js, prometheus.NewRegistry())
		drained(t, db)
		stop()
		events = b.events(ctx)
		sequences(t, events)
		if len(events) != 21 {
			t.Errorf("after the replay the stream holds %d events, want 21", len(events))
		}
	})
}

func TestRelayWaitsForNATS(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, cfg database.Config) {
		ctx := context.Background()
		b := newBus(t)
		db := migrated(t, cfg)
		reg := prometheus.NewRegistry()
		stop := run(t, db, b.js, reg)
		defer stop()
		write(t, db, "o-1", "E0")
		drained(t, db)

		b.stop()
		for i := 1; i <= 30; i++ {
			write(t, db, fmt.Sprintf("o-%d", i%2), fmt.Sprintf("E%d", i))
		}
		// NATS is away: the relay fails, backs off, and the events wait.
		waitFor(t, "relay errors while NATS is down", func() bool { return counter(t, reg, "ordersaga_outbox_relay_errors_total") >= 2 })
		if n, _ := outbox.Backlog(ctx, db); n != 30 {
			t.Fatalf("backlog with NATS down = %d, want 30", n)
		}
		if backlog := counter(t, reg, "ordersaga_outbox_backlog"); backlog != 30 {
			t.Errorf("ordersaga_outbox_backlog = %v, want 30", backlog)
		}
		b.start()
		drained(t, db)
		got := sequences(t, b.events(ctx))
		for o := range 2 {
			want := []string{}
			if o == 1 {
				want = append(want, "E0")
			}
			for i := 1; i <= 30; i++ {
				if i%2 == o {
					want = append(want, fmt.Sprintf("E%d", i))
				}
			}
			if fmt.Sprint(got[fmt.Sprintf("o-%d", o)]) != fmt.Sprint(want) {
				t.Errorf("o-%d: got %v, want %v", o, got[fmt.Sprintf("o-%d", o)], want)
			}
		}
	})
}

// TestRelaysTakeTurnsOnPostgres runs three relays of one outbox while events are written:
// one publishes at a time; when it stops another takes over; every event arrives once and
// in order per order.
func TestRelaysTakeTurnsOnPostgres(t *testing.T) {
	cfg, ok := dbtest.Postgres(t)
	if !ok {
		return
	}
	ctx := context.Background()
	b := newBus(t)
	db := migrated(t, cfg)
	regs := []*prometheus.Registry{prometheus.NewRegistry(), prometheus.NewRegistry(), prometheus.NewRegistry()}
	stops := make([]func(), len(regs))
	for i, reg := range regs {
		// Each relay has a database handle of its own, as replicas do.
		stops[i] = run(t, servicetest.Open(t, cfg), b.js, reg)
	}
	leaders := func() (n float64, which int) {
		for i, reg := range regs {
			if stops[i] != nil && counter(t, reg, "ordersaga_outbox_relay_leader") == 1 {
				n, which = n+1, i
			}
		}
		return n, which
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 50 {
				write(t, db, fmt.Sprintf("o-%d", w), fmt.Sprintf("E%02d", i))
			}
		})
	}
	waitFor(t, "a leader", func() bool { n, _ := leaders(); return n == 1 })
	_, first := leaders()
	stops[first]()
	stops[first] = nil
	waitFor(t, "another leader", func() bool { n, which := leaders(); return n == 1 && which != first })
	wg.Wait()
	drained(t, db)
	if n, _ := leaders(); n != 1 {
		t.Errorf("%v relays lead, want 1", n)
	}
	for i, stop := range stops {
		if stop != nil {
			stop()
			stops[i] = nil
		}
	}
	got := sequences(t, b.events(ctx))
	var want []string
	for i := range 50 {
		want = append(want, fmt.Sprintf("E%02d", i))
	}
	for w := range 4 {
		if fmt.Sprint(got[fmt.Sprintf("o-%d", w)]) != fmt.Sprint(want) {
			t.Errorf("o-%d: got %v", w, got[fmt.Sprintf("o-%d", w)])
		}
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 30s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// counter reads a metric without labels beyond the relay's from reg.
func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		m := mf.GetMetric()[0]
		switch {
		case m.GetCounter() != nil:
			return m.GetCounter().GetValue()
		case m.GetGauge() != nil:
			return m.GetGauge().GetValue()
		}
	}
	return -1
}
