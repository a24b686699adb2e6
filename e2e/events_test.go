package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ordersaga/ordersaga/app"
	"github.com/ordersaga/ordersaga/books"
	"github.com/ordersaga/ordersaga/internal/config"
	"github.com/ordersaga/ordersaga/internal/natsx"
	"github.com/ordersaga/ordersaga/internal/outbox"
	"github.com/ordersaga/ordersaga/internal/proc"
	"github.com/ordersaga/ordersaga/saga"
	"github.com/ordersaga/ordersaga/services/payment"
)

// TestEvents places an order of each outcome and reads the event stream as a consumer
// would: each order's events are exactly those its outcome implies, once each, in the
// saga's order, and `starter events --order` prints them.
func TestEvents(t *testing.T) { each(t, eventsPerOutcome) }

func eventsPerOutcome(t *testing.T, s *stack) {
	ctx := context.Background()
	cust := s.newCustomer(t, 10_000_000)
	if _, err := s.payments.UpsertCoupon(ctx, cust, "EVENTS10", payment.CouponUpdate{Kind: payment.CouponPercent, Value: 10}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.payments.UpsertCoupon(ctx, cust, "EVENTS5", payment.CouponUpdate{Kind: payment.CouponPercent, Value: 5}); err != nil {
		t.Fatal(err)
	}
	withCoupon := func(req app.PlaceRequest, code string) app.PlaceRequest { req.CouponCode = code; return req }
	sku := s.newProduct(t, 1500, 100)
	scarce := s.newProduct(t, 1500, 1)
	dear := s.newProduct(t, 200_000, 10) // above the approval threshold

	var ids []string
	for _, req := range []app.PlaceRequest{
		orderRequest(cust, "pm_card_visa", "US", sku+":1"),
		withCoupon(orderRequest(cust, "pm_card_visa", "US", sku+":2"), "EVENTS10"),
		orderRequest(cust, "pm_card_visa", "US", scarce+":2"),                            // OutOfStock
		withCoupon(orderRequest(cust, "pm_card_declined", "US", sku+":1"), "EVENTS5"),    // PaymentDeclined, coupon restored
		orderRequest(cust, "pm_card_visa", "XX", sku+":1"),                               // ShippingUnavailable, refunded
		withCoupon(orderRequest(cust, "pm_card_visa", "US", sku+":1"), "NO-SUCH-COUPON"), // CouponUnknown
	} {
		v := s.place(t, req)
		if !v.Status.Final() {
			t.Fatalf("order %s is %s after 20s", v.OrderID, v.Status)
		}
		ids = append(ids, v.OrderID)
	}
	// Approval rejected, and cancelled while awaiting approval.
	for _, action := range []string{"reject", "cancel"} {
		id := s.placeNoWait(t, orderRequest(cust, "pm_card_visa", "US", dear+":1"))
		s.await(t, id, 20*time.Second, "awaiting approval", func(v app.OrderView) bool { return v.Status == saga.StatusAwaitingApproval })
		if action == "reject" {
			s.decide(t, id, "reject", map[string]string{"note": "events test"})
		} else if r := s.call(t, http.MethodPost, "/v1/orders/"+id+"/cancel", nil); r.status != http.StatusAccepted {
			t.Fatalf("cancel: %d %s", r.status, r.body)
		}
		s.await(t, id, 20*time.Second, "the end", func(v app.OrderView) bool { return v.Status.Final() })
		ids = append(ids, id)
	}

	got := s.awaitEvents(t, ids, time.Minute)
	for _, id := range ids {
		v := s.get(t, id)
		checkOrderEvents(t, v, got.ByOrder[id])
	}
	if len(got.Repeated) > 0 {
		t.Errorf("events delivered twice: %v", got.Repeated)
	}

	// The consumer command prints one order's events, in stream order.
	cmd := exec.Command(filepath.Join(env.binDir, "starter"), "events", "--order", ids[1])
	cmd.Env = append(os.Environ(), "NATS_URL="+s.natsURL)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("starter events: %v\n%s", err, out)
	}
	var printed []string
	for line := range strings.Lines(string(out)) {
		if f := strings.Fields(line); len(f) >= 4 && f[3] == ids[1] {
			printed = append(printed, f[1]+"."+f[2])
		}
	}
	if want := streamTypes(got.ByOrder[ids[1]]); !slices.Equal(printed, want) {
		t.Errorf("starter events --order %s printed %v, want %v:\n%s", ids[1], printed, want, out)
	}
}

// expectedEvents lists, as service.Type, the events an order's outcome implies, in the
// saga's order.
func expectedEvents(v app.OrderView) []string {
	coupon := v.CouponCode != ""
	steps := []string{"order.OrderCreated"}
	done := func(step saga.Step) bool {
		if v.Failure != nil && v.Failure.Step == step {
			// The step the service refused changed nothing, even when a retried attempt
			// had its undo run: a declined charge is recorded DECLINED, which a refund
			// leaves as it is; an unserved shipment leaves only a tombstone.
			return false
		}
		st := stepStatus(v, step)
		return st == saga.StepCompleted || st == saga.StepCompensated
	}
	if done(saga.StepReserveInventory) {
		steps = append(steps, "inventory.StockReserved")
	}
	if coupon && done(saga.StepRedeemCoupon) {
		steps = append(steps, "payment.CouponRedeemed")
	}
	if done(saga.StepChargePayment) {
		steps = append(steps, "payment.PaymentCharged")
	}
	if done(saga.StepScheduleShipping) {
		steps = append(steps, "shipping.ShipmentScheduled")
	}
	switch v.Status {
	case saga.StatusCompleted:
		return append(steps, "order.OrderConfirmed")
	case saga.StatusRejected, saga.StatusCancelled:
		// The compensations, in reverse.
		if done(saga.StepScheduleShipping) {
			steps = append(steps, "shipping.ShipmentCancelled")
		}
		if done(saga.StepChargePayment) {
			steps = append(steps, "payment.PaymentRefunded")
		}
		if coupon && done(saga.StepRedeemCoupon) {
			steps = append(steps, "payment.CouponRestored")
		}
		if done(saga.StepReserveInventory) {
			steps = append(steps, "inventory.StockReleased")
		}
		if v.Status == saga.StatusRejected {
			return append(steps, "order.OrderRejected")
		}
		return append(steps, "order.OrderCancelled")
	}
	return nil
}

// checkOrderEvents checks an order's events, as read from the stream, against its
// outcome: ordered by the time they happened they are the saga's sequence; within each
// service the stream kept that order.
func checkOrderEvents(t *testing.T, v app.OrderView, events []outbox.Event) {
	t.Helper()
	want := expectedEvents(v)
	if want == nil {
		t.Errorf("order %s ended %s: no expected events", v.OrderID, v.Status)
		return
	}
	byTime := slices.Clone(events)
	sort.SliceStable(byTime, func(i, j int) bool { return byTime[i].OccurredAt.Before(byTime[j].OccurredAt) })
	if got := streamTypes(byTime); !slices.Equal(got, want) {
		t.Errorf("order %s (%s, failure %+v): events %v, want %v", v.OrderID, v.Status, v.Failure, got, want)
		return
	}
	for _, svc := range config.ServiceNames {
		prefix := svc + "."
		wantSvc := slices.DeleteFunc(slices.Clone(want), func(s string) bool { return !strings.HasPrefix(s, prefix) })
		gotSvc := slices.DeleteFunc(streamTypes(events), func(s string) bool { return !strings.HasPrefix(s, prefix) })
		if !slices.Equal(gotSvc, wantSvc) {
			t.Errorf("order %s: the stream holds %s's events as %v, want %v", v.OrderID, svc, gotSvc, wantSvc)
		}
	}
	for _, ev := range events {
		if ev.OrderID != v.OrderID || ev.SchemaVersion != outbox.SchemaVersion || len(ev.Body) < 2 {
			t.Errorf("event %+v of order %s is malformed", ev, v.OrderID)
		}
	}
}

func streamTypes(events []outbox.Event) []string {
	var out []string
	for _, ev := range events {
		out = append(out, ev.Service+"."+ev.Type)
	}
	return out
}

// readStream reads the whole stream at url, as a consumer would.
func readStream(t *testing.T, url string) books.Events {
	t.Helper()
	read, closeConn, err := books.ConnectStream(url)
	if err != nil {
		t.Fatal(err)
	}
	defer closeConn()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e, err := read(ctx)
	if err != nil {
		t.Fatalf("read the stream at %s: %v", url, err)
	}
	return e
}

// awaitEvents waits until every service's outbox is drained (its backlog metric is 0)
// and each of the orders has an event that ends it, then reads the stream.
func (s *stack) awaitEvents(t *testing.T, orderIDs []string, limit time.Duration) books.Events {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		backlog := s.outboxBacklog(t)
		if backlog == 0 {
			r := readStream(t, s.natsURL)
			missing := ""
			for _, id := range orderIDs {
				ended := slices.ContainsFunc(r.ByOrder[id], func(e outbox.Event) bool { return e.Service == "order" && e.Type != "OrderCreated" })
				if !ended {
					missing = id
					break
				}
			}
			if missing == "" {
				return r
			}
			if time.Now().After(deadline) {
				t.Fatalf("order %s has no final event in the stream after %s: %v", missing, limit, streamTypes(r.ByOrder[missing]))
			}
		} else if time.Now().After(deadline) {
			t.Fatalf("the outboxes still hold %d events after %s", backlog, limit)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// outboxBacklog sums the services' ordersaga_outbox_backlog metrics.
func (s *stack) outboxBacklog(t *testing.T) int {
	t.Helper()
	total := 0
	for _, svc := range config.ServiceNames {
		resp, err := http.Get(s.urls[svc] + "/metrics")
		if err != nil {
			return -1 // restarting
		}
		found := false
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "ordersaga_outbox_backlog{") {
				f := strings.Fields(line)
				n, err := strconv.ParseFloat(f[len(f)-1], 64)
				if err != nil || n < 0 {
					_ = resp.Body.Close()
					return -1
				}
				total += int(n)
				found = true
			}
		}
		_ = resp.Body.Close()
		if !found {
			t.Fatalf("%s serves no ordersaga_outbox_backlog metric", svc)
		}
	}
	return total
}

// natsServer is a NATS server with JetStream for one test, which the test can stop and
// start again on the same port and store: either this machine's nats-server binary, as
// a real deployment runs NATS, or the embedded server `make run` uses.
type natsServer struct {
	t        *testing.T
	port     int
	dir      string
	binary   string // empty: embedded
	proc     *proc.Proc
	embedded *natsx.Embedded
}

func (n *natsServer) url() string { return "nats://127.0.0.1:" + strconv.Itoa(n.port) }

func newNATSServer(t *testing.T, binary string) *natsServer {
	n := &natsServer{t: t, port: freePort(), dir: filepath.Join(t.TempDir(), "nats"), binary: binary}
	n.start()
	t.Cleanup(n.stop)
	return n
}

func (n *natsServer) start() {
	n.t.Helper()
	if n.binary == "" {
		srv, err := natsx.StartEmbedded("127.0.0.1", n.port, n.dir, slog.New(slog.DiscardHandler))
		if err != nil {
			n.t.Fatal(err)
		}
		n.embedded = srv
		return
	}
	p, err := startProc("nats-server", n.binary, []string{"-a", "127.0.0.1", "-p", strconv.Itoa(n.port), "-js", "-sd", n.dir}, nil)
	if err != nil {
		n.t.Fatal(err)
	}
	n.proc = p
	deadline := time.Now().Add(20 * time.Second)
	for {
		nc, err := nats.Connect(n.url())
		if err == nil {
			nc.Close()
			return
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("nats-server on %d: %v", n.port, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (n *natsServer) stop() {
	if n.embedded != nil {
		n.embedded.Shutdown()
		n.embedded = nil
	}
	if n.proc != nil {
		_ = n.proc.Stop(10 * time.Second)
		n.proc = nil
	}
}

// machineNATS returns the path of this machine's nats-server (NATS_SERVER_BIN, or found
// on the usual paths), or skips the test when there is none, unless
// ORDERSAGA_REQUIRE_NATS is set (CI installs Debian's package and sets it).
func machineNATS(t *testing.T) string {
	for _, p := range []string{os.Getenv("NATS_SERVER_BIN"), "/usr/sbin/nats-server", "/usr/bin/nats-server"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("nats-server"); err == nil {
		return p
	}
	if os.Getenv("ORDERSAGA_REQUIRE_NATS") != "" {
		t.Fatal("ORDERSAGA_REQUIRE_NATS is set and this machine has no nats-server (apt-get install nats-server)")
	}
	t.Skip("no nats-server binary on this machine")
	return ""
}

// TestEventsSurviveAKillBeforePublish kills the services process while the events of
// finished orders are committed but cannot be published (NATS is down), starts NATS and
// the services again, and finds each event in the stream once.
func TestEventsSurviveAKillBeforePublish(t *testing.T) {
	n := newNATSServer(t, "")
	s := eventsStack(t, "events-kill", n)
	cust := s.newCustomer(t, 1_000_000)
	sku := s.newProduct(t, 1000, 100)

	n.stop()
	var ids []string
	for _, req := range []app.PlaceRequest{
		orderRequest(cust, "pm_card_visa", "US", sku+":1"),
		orderRequest(cust, "pm_card_declined", "US", sku+":1"),
		orderRequest(cust, "pm_card_visa", "XX", sku+":1"),
	} {
		v := s.place(t, req)
		if !v.Status.Final() {
			t.Fatalf("order %s is %s after 20s", v.OrderID, v.Status)
		}
		ids = append(ids, v.OrderID)
	}
	if b := s.outboxBacklog(t); b < 10 {
		t.Fatalf("outbox backlog with NATS down = %d, want the orders' events waiting", b)
	}
	s.services.Kill()
	<-s.services.Done()
	n.start()
	if err := s.startServices(); err != nil {
		t.Fatal(err)
	}
	got := s.awaitEvents(t, ids, time.Minute)
	for _, id := range ids {
		checkOrderEvents(t, s.get(t, id), got.ByOrder[id])
	}
	if len(got.Repeated) > 0 {
		t.Errorf("events delivered twice: %v", got.Repeated)
	}
	s.checkBooks(t)
}

// eventsStack starts a stack of its own whose services publish to n, and stops it when
// t ends: its services' PostgreSQL connections must not crowd the tests after it (the
// machine's PostgreSQL allows 100).
func eventsStack(t *testing.T, name string, n *natsServer, extraEnv ...string) *stack {
	t.Helper()
	s, err := newStack(name, env.tempAddr, append([]string{"NATS_URL=" + n.url()}, extraEnv...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	return s
}

// TestEventsThroughANATSOutage stops NATS for 30 seconds while orders are placed: no
// event is lost, none is delivered twice, and each order's events keep their order. It
// runs with this machine's nats-server (on PostgreSQL when configured) and with the
// embedded server (on SQLite).
func TestEventsThroughANATSOutage(t *testing.T) {
	t.Run("machine's nats-server", func(t *testing.T) {
		t.Parallel()
		n := newNATSServer(t, machineNATS(t))
		var extra []string
		if url := os.Getenv("TEST_DATABASE_URL"); url != "" {
			dbURL, err := createDatabase(context.Background(), url)
			if err != nil {
				t.Fatal(err)
			}
			extra = append(extra, "DATABASE_URL="+dbURL)
		}
		eventsThroughOutage(t, eventsStack(t, "events-outage-machine", n, extra...), n)
	})
	t.Run("embedded", func(t *testing.T) {
		t.Parallel()
		n := newNATSServer(t, "")
		eventsThroughOutage(t, eventsStack(t, "events-outage-embedded", n), n)
	})
}

// outage is how long NATS stays down in TestEventsThroughANATSOutage.
const outage = 30 * time.Second

func eventsThroughOutage(t *testing.T, s *stack, n *natsServer) {
	cust := s.newCustomer(t, 100_000_000)
	sku := s.newProduct(t, 1000, 100_000)
	kinds := []app.PlaceRequest{
		orderRequest(cust, "pm_card_visa", "US", sku+":1"),
		orderRequest(cust, "pm_card_visa", "US", sku+":2"),
		orderRequest(cust, "pm_card_declined", "US", sku+":1"),
		orderRequest(cust, "pm_card_visa", "XX", sku+":1"),
	}
	var (
		mu      sync.Mutex
		ids     []string
		placed  atomic.Int64
		stop    = make(chan struct{})
		clients sync.WaitGroup
	)
	for c := range 3 {
		clients.Go(func() {
			for i := c; ; i += 3 {
				select {
				case <-stop:
					return
				default:
				}
				r, err := s.try(http.MethodPost, "/v1/orders?wait=20s", kinds[i%len(kinds)])
				if err != nil || r.status != http.StatusAccepted {
					t.Errorf("place: %v %d %s", err, r.status, r.body)
					return
				}
				var v app.OrderView
				if err := json.Unmarshal(r.body, &v); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				ids = append(ids, v.OrderID)
				mu.Unlock()
				placed.Add(1)
			}
		})
	}
	waitUntil(t, 30*time.Second, "orders placed before the outage", func() bool { return placed.Load() >= 6 })
	n.stop()
	before := placed.Load()
	time.Sleep(outage) // the outage itself: a duration, not a condition to wait for
	if b := s.outboxBacklog(t); b <= 0 {
		t.Errorf("outbox backlog after %s without NATS = %d, want events waiting", outage, b)
	}
	n.start()
	during := placed.Load() - before
	waitUntil(t, 30*time.Second, "orders placed after the outage", func() bool { return placed.Load() >= before+during+6 })
	close(stop)
	clients.Wait()
	if during < 3 {
		t.Errorf("only %d orders were placed during the outage", during)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, id := range ids {
		s.await(t, id, time.Minute, "the end", func(v app.OrderView) bool { return v.Status.Final() })
	}
	got := s.awaitEvents(t, ids, 2*time.Minute)
	for _, id := range ids {
		checkOrderEvents(t, s.get(t, id), got.ByOrder[id])
	}
	if len(got.Repeated) > 0 {
		t.Errorf("%d events delivered twice: %v", len(got.Repeated), got.Repeated)
	}
	t.Logf("%d orders (%d during the %s outage), %d events, each once", len(ids), during, outage, eventCount(got))
	s.checkBooks(t)
}

func waitUntil(t *testing.T, limit time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %s", what, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func eventCount(e books.Events) int {
	n := 0
	for _, evs := range e.ByOrder {
		n += len(evs)
	}
	return n
}
