package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/ordersaga/ordersaga/app"
	"github.com/ordersaga/ordersaga/internal/config"
	"github.com/ordersaga/ordersaga/internal/database"
	"github.com/ordersaga/ordersaga/internal/database/dbtest"
	"github.com/ordersaga/ordersaga/internal/faults"
	"github.com/ordersaga/ordersaga/internal/proc"
	"github.com/ordersaga/ordersaga/internal/temporalx"
	"github.com/ordersaga/ordersaga/saga"
	"github.com/ordersaga/ordersaga/services/payment"
)

// envRequireCluster makes TestMakeRunCluster fail, rather than skip, when the cluster's
// binaries (`make cluster-tools`) or PostgreSQL are missing. CI sets it.
const envRequireCluster = "ORDERSAGA_REQUIRE_CLUSTER"

// TestMakeRunCluster runs `make run-cluster` as a newcomer would, on its own ports and
// databases: it places an order on the second API, sees it COMPLETED, finds it through the
// Web UI server's API and with `temporal workflow list`, presses Ctrl-C, and checks that
// every process is gone.
func TestMakeRunCluster(t *testing.T) {
	pgURL := needCluster(t)
	c := startCluster(t, pgURL)
	s := &stack{apiURL: c.apiURLs[1]}
	v := s.place(t, orderRequest("cust-1", "pm_card_visa", "US", "SKU-BOOK:2"))
	if v.Status != saga.StatusCompleted {
		t.Fatalf("order through the second API = %s %+v, want COMPLETED", v.Status, v.Failure)
	}
	first := &stack{apiURL: c.apiURLs[0]}
	if got := first.get(t, v.OrderID); got.Status != saga.StatusCompleted {
		t.Errorf("the first API reads the order as %s, want COMPLETED", got.Status)
	}
	workflowID := saga.WorkflowID(v.OrderID)

	// The Web UI lists it: its server answers the browser's API calls from the cluster.
	uiList := fmt.Sprintf("http://127.0.0.1:%d/api/v1/namespaces/ordersaga/workflows?query=%s",
		c.ports["TEMPORAL_UI_PORT"], url.QueryEscape(`WorkflowId="`+workflowID+`"`))
	if body := httpGet(t, uiList); !strings.Contains(body, workflowID) || !strings.Contains(body, "COMPLETED") {
		t.Errorf("the Web UI's workflow list does not show %s as COMPLETED:\n%s", workflowID, body)
	}
	// And the CLI finds it in the namespace.
	out, err := exec.Command(env.temporal, "workflow", "list", "--address", fmt.Sprintf("127.0.0.1:%d", c.ports["TEMPORAL_PORT"]),
		"--namespace", "ordersaga", "--query", `OrderStatus="COMPLETED"`, "-o", "json").CombinedOutput()
	if err != nil || !strings.Contains(string(out), workflowID) {
		t.Errorf("temporal workflow list: %v, does not list %s:\n%s", err, workflowID, out)
	}

	c.make.interrupt(t, c.pids)
}

// needCluster returns the PostgreSQL URL the cluster profile runs on, and skips t when
// that or the cluster's binaries are missing (fails it when envRequireCluster is set).
func needCluster(t testing.TB) string {
	t.Helper()
	pgURL := os.Getenv(dbtest.EnvURL)
	missing := ""
	for _, bin := range []string{"temporal-server", "temporal-sql-tool", "temporal-ui-server"} {
		if _, err := os.Stat(filepath.Join(env.root, "bin", bin)); err != nil {
			missing = "bin/" + bin + " (make cluster-tools)"
		}
	}
	if pgURL == "" {
		missing = dbtest.EnvURL
	}
	if missing != "" {
		if os.Getenv(envRequireCluster) != "" {
			t.Fatalf("%s is set but %s is missing", envRequireCluster, missing)
		}
		t.Skipf("the cluster profile needs %s", missing)
	}
	return pgURL
}

// BenchmarkDevVsCluster places the same orders (POST /v1/orders?wait= until COMPLETED)
// on the dev server profile and on the cluster profile, side by side: the e2e PostgreSQL
// stack on the dev server (one worker, one API, the services in one process) and `make
// run-cluster` (a Temporal server on PostgreSQL, two workers, two APIs, one process per
// service). Latency one order at a time, alternating; throughput at 8 and 32 clients,
// in the order dev, cluster, cluster, dev against drift. Run it with `make bench`.
func BenchmarkDevVsCluster(b *testing.B) {
	pgURL := needCluster(b)
	var dev *stack
	for _, s := range env.stacks {
		if s.name == "postgres" {
			dev = s
		}
	}
	if dev == nil {
		b.Fatal("no postgres stack on the dev server")
	}
	c := startCluster(b, pgURL)
	defer c.make.interrupt(b, c.pids)
	profiles := []*stack{dev, c.stack}
	sku := map[*stack]string{dev: dev.newProduct(b, 100, 1_000_000), c.stack: c.stack.newProduct(b, 100, 1_000_000)}
	name := map[*stack]string{dev: "dev server", c.stack: "cluster"}

	const rounds = 40
	lat := map[*stack][]time.Duration{}
	for i := range rounds {
		for k := range profiles {
			s := profiles[(k+i)%2] // alternate which goes first
			d, err := timeOrder(b, s, sku[s])
			if err != nil {
				b.Fatal(err)
			}
			lat[s] = append(lat[s], d)
		}
	}
	tput := map[*stack]map[int]float64{dev: {}, c.stack: {}}
	for _, clients := range []int{8, 32} {
		for _, s := range []*stack{dev, c.stack, c.stack, dev} {
			tput[s][clients] += throughput(b, s, sku[s], clients, 4*clients) / 2
		}
	}
	// What the cluster's persistence costs: PostgreSQL transactions in Temporal's two
	// databases, and WAL flushes to disk (the server's, whoever asked), per order, over
	// orders placed on the cluster alone.
	const alone = 20
	commits0, syncs0 := pgCounters(b, pgURL, c.prefix+"temporal%")
	for range alone {
		if _, err := timeOrder(b, c.stack, sku[c.stack]); err != nil {
			b.Fatal(err)
		}
	}
	time.Sleep(time.Second) // PostgreSQL publishes its statistics within a second
	commits1, syncs1 := pgCounters(b, pgURL, c.prefix+"temporal%")
	b.Logf("cluster, per order (%d orders one at a time): %.1f PostgreSQL transactions in Temporal's databases, %.1f WAL syncs",
		alone, float64(commits1-commits0)/alone, float64(syncs1-syncs0)/alone)
	b.ReportMetric(float64(commits1-commits0)/alone, "temporal-pg-xacts/order")

	b.Logf("POST /v1/orders?wait= until COMPLETED; latency over %d orders one at a time, alternating; throughput two passes each (ABBA)", rounds)
	b.Logf("%-11s %8s %8s %8s %16s %16s", "profile", "p50 ms", "p95 ms", "p99 ms", "orders/s (8)", "orders/s (32)")
	for _, s := range profiles {
		b.Logf("%-11s %8.1f %8.1f %8.1f %16.1f %16.1f", name[s], ms(percentile(lat[s], .5)), ms(percentile(lat[s], .95)),
			ms(percentile(lat[s], .99)), tput[s][8], tput[s][32])
	}
	b.ReportMetric(ms(percentile(lat[c.stack], .5))/ms(percentile(lat[dev], .5)), "cluster/dev-p50")
	b.ReportMetric(tput[c.stack][32]/tput[dev][32], "cluster/dev-tput32")
}

// pgCounters returns the committed transactions of the databases named like pattern, and
// the server's WAL syncs so far.
func pgCounters(b *testing.B, pgURL, pattern string) (commits, syncs int64) {
	b.Helper()
	db, err := database.Open(context.Background(), database.Config{URL: pgURL}, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = database.Close(db) }()
	if err := db.Raw("SELECT COALESCE(SUM(xact_commit), 0) FROM pg_stat_database WHERE datname LIKE ?", pattern).Scan(&commits).Error; err != nil {
		b.Fatal(err)
	}
	if err := db.Raw("SELECT wal_sync FROM pg_stat_wal").Scan(&syncs).Error; err != nil {
		b.Fatal(err)
	}
	return commits, syncs
}

// cluster is a `make run-cluster` on its own ports and databases.
type cluster struct {
	make   *makeTarget
	prefix string // of its databases' names
	// workerPorts and apiPorts are the workers' and the APIs' ports, worker-1's and
	// api-1's first.
	workerPorts, apiPorts []int
	pids                  map[string]int
	ports                 map[string]int // by setting name
	apiURLs               []string
	// stack reaches the cluster's first API and its services, for newProduct and the like.
	stack *stack
}

// startCluster runs `make run-cluster` with databases named e2e_<random>_ on pgURL's
// server (dropped at the end), extraEnv added to its environment, and waits until it is
// ready.
func startCluster(t testing.TB, pgURL string, extraEnv ...string) *cluster {
	t.Helper()
	return startClusterOf(t, pgURL, 2, extraEnv...)
}

// startClusterOf is startCluster with replicas workers and replicas APIs.
func startClusterOf(t testing.TB, pgURL string, replicas int, extraEnv ...string) *cluster {
	t.Helper()
	prefix := "e2e_" + randomHex(4) + "_"
	t.Cleanup(func() { dropDatabases(t, pgURL, prefix) })
	grpc, membership := freePortBelow(32000), freePortBelow(32000)
	for membership > grpc-16 && membership < grpc+16 { // the two ranges must not overlap
		membership = freePortBelow(32000)
	}
	c := &cluster{prefix: prefix, ports: map[string]int{
		"TEMPORAL_PORT": grpc, "TEMPORAL_MEMBERSHIP_PORT": membership,
		"TEMPORAL_UI_PORT": freePort(), "TEMPORAL_METRICS_PORT": freePort(), "NATS_PORT": freePort(),
	}}
	for _, svc := range config.ServiceNames {
		c.ports[config.EnvName(svc, "PORT")] = freePort()
	}
	var apiPorts, workerPorts []int
	for range replicas {
		apiPorts, workerPorts = append(apiPorts, freePort()), append(workerPorts, freePort())
	}
	environ := []string{
		"DATABASE_URL=" + pgURL, "DB_PREFIX=" + prefix, "DATA_DIR=" + t.TempDir(), "OPERATOR_TOKENS=" + operatorToken,
		"API_PORTS=" + joinPorts(apiPorts), "WORKER_PORTS=" + joinPorts(workerPorts),
		// As on the dev server's stacks: a compensation gives up after 3 attempts (seconds,
		// not the default's minutes) and the order needs attention.
		"COMPENSATION_MAX_ATTEMPTS=3",
	}
	for k, v := range c.ports {
		environ = append(environ, k+"="+strconv.Itoa(v))
	}
	for _, p := range apiPorts {
		c.apiURLs = append(c.apiURLs, fmt.Sprintf("http://127.0.0.1:%d", p))
	}
	c.make = startMake(t, "run-cluster", append(environ, extraEnv...))
	want := []string{"temporal", "ui"}
	want = append(want, config.ServiceNames...)
	for _, kind := range []string{"worker", "api"} { // in the banner's order
		for i := range replicas {
			want = append(want, fmt.Sprintf("%s-%d", kind, i+1))
		}
	}
	c.pids = c.make.awaitBanner(t, 5*time.Minute, want...)
	c.workerPorts, c.apiPorts = workerPorts, apiPorts

	tc, err := temporalx.Dial(context.Background(), c.temporal(), slog.New(slog.DiscardHandler), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)
	s := &stack{name: "cluster", apiURL: c.apiURLs[0], taskQueue: c.temporal().TaskQueue, tc: tc,
		natsURL:   fmt.Sprintf("nats://127.0.0.1:%d", c.ports["NATS_PORT"]),
		workerURL: fmt.Sprintf("http://127.0.0.1:%d", workerPorts[0])}
	s.reach(func(svc string) string {
		return fmt.Sprintf("http://127.0.0.1:%d", c.ports[config.EnvName(svc, "PORT")])
	})
	c.stack = s
	return c
}

// temporal is how a client reaches the cluster's namespace.
func (c *cluster) temporal() config.Temporal {
	t := config.LocalTemporal(fmt.Sprintf("127.0.0.1:%d", c.ports["TEMPORAL_PORT"]))
	t.Profile.Namespace = "ordersaga"
	return t
}

// TestClusterSaga runs the saga's scenarios (every outcome, cancel, approval,
// NEEDS_ATTENTION and retry, idempotency, bad input) on the cluster profile, each request
// going to the next of the two API replicas in turn, checks that the server starts an
// order's activities eagerly (as server 1.32 does by default), and then checks the
// cluster's books: stock, balances, payments and shipments agree with every order's final
// status, and no order's workflow is left running.
func TestClusterSaga(t *testing.T) {
	c := startCluster(t, needCluster(t))
	s := c.stack
	s.apiURLs = c.apiURLs
	for _, sc := range sagaScenarios {
		t.Run(sc.name, func(t *testing.T) { sc.run(t, s) })
	}
	t.Run("steps run eagerly", func(t *testing.T) {
		stepsRunEagerly(t, s, fmt.Sprintf("http://127.0.0.1:%d/metrics", c.ports["TEMPORAL_METRICS_PORT"]))
	})
	s.checkBooks(t)
	c.make.interrupt(t, c.pids)
}

// TestClusterWorkerKilledMidCharge kills (SIGKILL) the worker that runs an order's
// ChargePayment while the payment service is answering slowly: the other worker finishes
// the order after the activity's timeout, the customer is charged once, and the cluster
// starts the killed worker again.
func TestClusterWorkerKilledMidCharge(t *testing.T) {
	c := startCluster(t, needCluster(t))
	s := c.stack
	cust := s.newCustomer(t, 100000)
	injectFaults(t, s.payments.Faults(), faults.Config{LatencyMs: 3000, Operations: []string{"charge"}})
	id := s.placeNoWait(t, orderRequest(cust, "pm_card_visa", "US", "SKU-MUG:1"))

	// The worker whose identity ("<pid>@<host>@...") the running ChargePayment carries.
	var pid int
	deadline := time.Now().Add(15 * time.Second)
	for pid == 0 {
		if time.Now().After(deadline) {
			t.Fatal("ChargePayment did not start on a worker within 15 s")
		}
		d, err := s.tc.WorkflowService().DescribeWorkflowExecution(context.Background(), &workflowservice.DescribeWorkflowExecutionRequest{
			Namespace: "ordersaga", Execution: &commonpb.WorkflowExecution{WorkflowId: saga.WorkflowID(id)}})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range d.GetPendingActivities() {
			if a.GetActivityType().GetName() == "ChargePayment" && a.GetState() == enumspb.PENDING_ACTIVITY_STATE_STARTED {
				pid, _ = strconv.Atoi(strings.SplitN(a.GetLastWorkerIdentity(), "@", 2)[0])
			}
		}
		if pid == 0 {
			time.Sleep(50 * time.Millisecond)
		}
	}
	worker := ""
	for name, p := range c.pids {
		if p == pid {
			worker = name
		}
	}
	if !strings.HasPrefix(worker, "worker-") {
		t.Fatalf("ChargePayment runs in pid %d, not one of the cluster's workers %v", pid, c.pids)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}

	v := s.await(t, id, time.Minute, "the end", func(v app.OrderView) bool { return v.Status.Settled() })
	if v.Status != saga.StatusCompleted {
		t.Fatalf("order = %s %+v, want COMPLETED by the other worker", v.Status, v.Failure)
	}
	if b := s.balance(t, cust); b != 100000-v.TotalCents {
		t.Errorf("balance = %d, want %d: charged once", b, 100000-v.TotalCents)
	}
	if p, err := s.payments.Payment(context.Background(), id); err != nil || p.Status != payment.Charged {
		t.Errorf("payment = %+v, %v; want CHARGED", p, err)
	}
	// The cluster started the killed worker again, on its port.
	n, _ := strconv.Atoi(strings.TrimPrefix(worker, "worker-"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := proc.WaitHTTP(ctx, fmt.Sprintf("http://127.0.0.1:%d/readyz", c.workerPorts[n-1])); err != nil {
		t.Errorf("%s was not started again: %v", worker, err)
	}
	delete(c.pids, worker) // the banner's pid of it is gone; its successor stops with the rest
	c.make.interrupt(t, c.pids)
}

// freePortBelow returns a port below limit, at least 16 apart from the next in use: the
// server derives its other ports from its frontend and membership ports (+1 to +10),
// and keeps membership ports in a smallint.
func freePortBelow(limit int) int {
	for {
		p := 20000 + rand.IntN(limit-20000-16)
		free := true
		for i := range 11 {
			l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+i))
			if err != nil {
				free = false
				break
			}
			l.Close()
		}
		if free {
			return p
		}
	}
}

func joinPorts(ps []int) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = strconv.Itoa(p)
	}
	return strings.Join(s, ",")
}

// httpGet returns the body of a 200 answer to GET url.
func httpGet(t *testing.T, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return string(b)
}

// dropDatabases drops the databases whose names start with prefix on pgURL's server.
func dropDatabases(t testing.TB, pgURL, prefix string) {
	db, err := database.Open(context.Background(), database.Config{URL: pgURL}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Errorf("drop the cluster's databases: %v", err)
		return
	}
	defer func() { _ = database.Close(db) }()
	var names []string
	if err := db.Raw("SELECT datname FROM pg_database WHERE datname LIKE ?", prefix+"%").Scan(&names).Error; err != nil {
		t.Errorf("list the cluster's databases: %v", err)
		return
	}
	for _, name := range names {
		if err := db.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)").Error; err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
	}
}
