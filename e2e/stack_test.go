// Package e2e tests ordersaga end to end: a real Temporal dev server (bin/temporal), the
// real services, worker and API processes built from ./cmd, talking HTTP and gRPC on
// loopback, with SQLite and (when TEST_DATABASE_URL is set) PostgreSQL storage.
//
// TestMain builds the binaries, starts one dev server and one stack per database, runs
// the tests, and finally checks invariants over every order the tests made: stock,
// balances, payments and shipments must agree with each order's final status.
package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"

	"github.com/ordersaga/ordersaga/app"
	"github.com/ordersaga/ordersaga/internal/config"
	"github.com/ordersaga/ordersaga/internal/database"
	"github.com/ordersaga/ordersaga/internal/database/dbtest"
	"github.com/ordersaga/ordersaga/internal/devserver"
	"github.com/ordersaga/ordersaga/internal/faults"
	"github.com/ordersaga/ordersaga/internal/httpx"
	"github.com/ordersaga/ordersaga/internal/problem"
	"github.com/ordersaga/ordersaga/internal/proc"
	"github.com/ordersaga/ordersaga/internal/temporalx"
	"github.com/ordersaga/ordersaga/saga"
	"github.com/ordersaga/ordersaga/services/inventory"
	"github.com/ordersaga/ordersaga/services/order"
	"github.com/ordersaga/ordersaga/services/payment"
	"github.com/ordersaga/ordersaga/services/shipping"
)

// operatorToken is the stacks' operator bearer token; serviceToken the services' (SERVICE_TOKENS).
const (
	operatorToken = "e2e-operator-token"
	serviceToken  = "e2e-service-token"
)

var (
	// env is what TestMain set up; the tests read it.
	env struct {
		root         string // the repository
		binDir       string // freshly built binaries
		temporal     string // bin/temporal
		tempAddr     string // the dev server's frontend
		tempMetrics  string // the dev server's /metrics address
		logDir       string
		temporalProc *proc.Proc    // the dev server
		tc           client.Client // opens sealed payloads (every key below)
		keys         payloadKeys
		stacks       []*stack
		recording    *recorder
	}
	recordHistories = flag.Bool("record-histories", false, "write the histories of representative orders to workflows/testdata/histories")
	recordSuffix    = flag.String("record-suffix", "", "with -record-histories: name the histories <scenario>-<suffix>.json, keeping the earlier recordings")
)

func TestMain(m *testing.M) {
	flag.Parse()
	var code int
	if err := setUp(); err == nil {
		code = m.Run()
		if code == 0 {
			code = checkAllInvariants()
		}
		if code == 0 && *recordHistories {
			if err := env.recording.write(filepath.Join(env.root, "workflows", "testdata", "histories"), *recordSuffix); err != nil {
				fmt.Fprintln(os.Stderr, "record histories:", err)
				code = 1
			}
		}
	} else {
		fmt.Fprintln(os.Stderr, "e2e setup:", err)
		code = 1
	}
	tearDown(code != 0)
	os.Exit(code)
}

var cleanups []func()

func setUp() error {
	_, file, _, _ := runtime.Caller(0)
	env.root = filepath.Dir(filepath.Dir(file))
	env.temporal = filepath.Join(env.root, "bin", "temporal")
	if _, err := os.Stat(env.temporal); err != nil {
		return fmt.Errorf("%s is missing: run `make tools` (or `make test`, which builds it)", env.temporal)
	}
	var err error
	if env.logDir, err = os.MkdirTemp("", "ordersaga-e2e-"); err != nil {
		return err
	}
	env.binDir = filepath.Join(env.logDir, "bin")
	build := exec.Command("go", "build", "-o", env.binDir+"/", "./cmd/api", "./cmd/services", "./cmd/worker", "./cmd/starter", "./cmd/devstack", "./cmd/benchworker")
	build.Dir, build.Stdout, build.Stderr = env.root, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build binaries: %w", err)
	}

	port, metricsPort := freePort(), freePort()
	env.tempAddr = "127.0.0.1:" + strconv.Itoa(port)
	env.tempMetrics = "127.0.0.1:" + strconv.Itoa(metricsPort)
	srv, err := startProc("temporal", env.temporal, devserver.Args(devserver.Options{Port: port, MetricsPort: metricsPort}), nil)
	if err != nil {
		return err
	}
	cleanups = append(cleanups, func() { _ = srv.Stop(20 * time.Second) })
	env.temporalProc = srv
	ctx := context.Background()
	env.keys = newPayloadKeys()
	env.tc, err = temporalx.Dial(ctx, config.LocalTemporal(env.tempAddr),
		slog.New(slog.DiscardHandler), time.Minute, openPayloads(env.keys.all()))
	if err != nil {
		return err
	}
	env.recording = &recorder{tc: env.tc, ids: map[string]string{}}

	sqliteStack, err := newStack("sqlite", env.tempAddr, nil)
	if err != nil {
		return err
	}
	env.stacks = append(env.stacks, sqliteStack)
	pgURL := os.Getenv(dbtest.EnvURL)
	if pgURL == "" && os.Getenv(dbtest.EnvRequirePostgres) != "" {
		return fmt.Errorf("%s is set but %s is empty", dbtest.EnvRequirePostgres, dbtest.EnvURL)
	}
	if pgURL != "" {
		dbURL, err := createDatabase(ctx, pgURL)
		if err != nil {
			return err
		}
		pgStack, err := newStack("postgres", env.tempAddr, []string{"DATABASE_URL=" + dbURL})
		if err != nil {
			return err
		}
		env.stacks = append(env.stacks, pgStack)
	}
	return nil
}

func tearDown(failed bool) {
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	if env.tc != nil {
		env.tc.Close()
	}
	if failed && env.logDir != "" {
		fmt.Fprintf(os.Stderr, "e2e: process logs kept in %s\n", env.logDir)
		return
	}
	_ = os.RemoveAll(env.logDir)
}

// createDatabase makes a fresh PostgreSQL database for a run and returns its URL; it is
// dropped at the end.
func createDatabase(ctx context.Context, baseURL string) (string, error) {
	name := "ordersaga_e2e_" + randomHex(6)
	dbURL, err := database.CreatePostgres(ctx, baseURL, name)
	if err == nil {
		cleanups = append(cleanups, func() { _ = database.DropPostgres(context.Background(), baseURL, name) })
	}
	return dbURL, err
}

// stack is one complete ordersaga (services, worker, API) on its own task queue and
// storage, sharing the dev server.
type stack struct {
	name   string
	env    []string
	apiURL string
	// apiURLs, when set, are API replicas that call takes in turn (apiURL is ignored).
	apiURLs   []string
	nextAPI   atomic.Uint64
	workerURL string            // the worker's /healthz, /readyz, /metrics (the first worker's, on the cluster)
	natsURL   string            // where the services publish their events
	urls      map[string]string // service name → base URL
	taskQueue string
	services  *proc.Proc
	api       *proc.Proc

	mu     sync.Mutex
	worker *proc.Proc

	tc        client.Client // the stack's Temporal (env.tc unless it has its own server)
	orders    *order.Client
	inventory *inventory.Client
	payments  *payment.Client
	shipping  *shipping.Client

	// initial stock and balances of what this stack's tests created, for the invariants.
	initialStock   map[string]int
	initialBalance map[string]int64
}

// newStack starts a stack on the dev server at temporalAddr.
func newStack(name, temporalAddr string, extraEnv []string) (*stack, error) {
	s := &stack{name: name, taskQueue: "e2e-" + name, tc: env.tc}
	ports := map[string]int{"api": freePort(), "worker": freePort()}
	for _, svc := range config.ServiceNames {
		ports[svc] = freePort()
	}
	dataDir := filepath.Join(env.logDir, name+"-data")
	natsPort := freePort()
	s.natsURL = "nats://127.0.0.1:" + strconv.Itoa(natsPort)
	for _, kv := range extraEnv {
		if v, ok := strings.CutPrefix(kv, "NATS_URL="); ok {
			s.natsURL = v
		}
	}
	s.env = append([]string{
		"NATS_PORT=" + strconv.Itoa(natsPort),
		"TEMPORAL_ADDRESS=" + temporalAddr,
		"TEMPORAL_TASK_QUEUE=" + s.taskQueue,
		"DATA_DIR=" + dataDir,
		"OPERATOR_TOKENS=" + operatorToken,
		"SERVICE_TOKENS=" + serviceToken,
		"PAYLOAD_KEYS=" + env.keys.stacks,
		"FAULTS_ENABLED=true", "SEED_DEMO_DATA=true",
		"APPROVAL_THRESHOLD_CENTS=100000",
		"APPROVAL_TIMEOUT=1h",
		"COMPENSATION_MAX_ATTEMPTS=3",
		"LOG_LEVEL=info",
	}, extraEnv...)
	for proc, port := range ports {
		s.env = append(s.env, config.EnvName(proc, "PORT")+"="+strconv.Itoa(port))
	}
	base := func(svc string) string { return "http://127.0.0.1:" + strconv.Itoa(ports[svc]) }
	s.apiURL = base("api")
	s.workerURL = base("worker")
	s.reach(base)

	if err := s.startServices(); err != nil {
		return nil, err
	}
	cleanups = append(cleanups, func() { _ = s.services.Stop(15 * time.Second) })
	if err := s.startWorker(); err != nil {
		return nil, err
	}
	cleanups = append(cleanups, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		_ = s.worker.Stop(15 * time.Second)
	})
	cleanups = append(cleanups, func() {
		if s.api != nil {
			_ = s.api.Stop(15 * time.Second)
		}
	})
	if err := s.startAPI(); err != nil {
		return nil, err
	}
	return s, nil
}

// reach points the stack's service clients at the services, url(name) being each one's
// base URL, and opens its books with the seeded stock and balances.
func (s *stack) reach(url func(service string) string) {
	s.urls = map[string]string{}
	for _, svc := range config.ServiceNames {
		s.urls[svc] = url(svc)
	}
	hc := httpx.NewServiceHTTPClient(serviceToken)
	s.orders = order.NewClient(s.urls[config.Order], hc)
	s.inventory = inventory.NewClient(s.urls[config.Inventory], hc)
	s.payments = payment.NewClient(s.urls[config.Payment], hc)
	s.shipping = shipping.NewClient(s.urls[config.Shipping], hc)
	s.initialStock, s.initialBalance = map[string]int{}, map[string]int64{}
	for _, p := range inventory.SeedProducts {
		s.initialStock[p.SKU] = p.Available
	}
	for _, c := range payment.SeedCustomers {
		s.initialBalance[c.CustomerID] = c.BalanceCents
	}
}

// stop stops the stack's processes, the API first; TestMain's cleanups stopping them
// again do nothing.
func (s *stack) stop() {
	if s.api != nil {
		_ = s.api.Stop(15 * time.Second)
	}
	s.mu.Lock()
	if s.worker != nil {
		_ = s.worker.Stop(15 * time.Second)
	}
	s.mu.Unlock()
	_ = s.services.Stop(15 * time.Second)
}

// startServices starts the stack's services process and waits until each service answers.
func (s *stack) startServices() error {
	p, err := startProc(s.name+"-services", filepath.Join(env.binDir, "services"), nil, s.env)
	if err != nil {
		return err
	}
	s.services = p
	for _, svc := range config.ServiceNames {
		if err := waitOK(s.urls[svc]+"/healthz", p); err != nil {
			return fmt.Errorf("%s stack, %s service: %w", s.name, svc, err)
		}
	}
	return nil
}

// startAPI starts the stack's API process with the stack's environment and waits until
// it is ready.
func (s *stack) startAPI() error {
	p, err := startProc(s.name+"-api", filepath.Join(env.binDir, "api"), nil, s.env)
	if err != nil {
		return err
	}
	s.api = p
	if err := waitOK(s.apiURL+"/readyz", p); err != nil {
		return fmt.Errorf("%s stack, api: %w", s.name, err)
	}
	return nil
}

func (s *stack) startWorker() error {
	w, err := startProc(s.name+"-worker", filepath.Join(env.binDir, "worker"), nil, s.env)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.worker = w
	s.mu.Unlock()
	return nil
}

// killWorker kills the worker process with SIGKILL: no draining, no goodbye.
func (s *stack) killWorker() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.worker.Kill()
}

// historyEvents returns the whole history of workflowID, as tc's server has it.
func historyEvents(t testing.TB, tc client.Client, workflowID string) []*historypb.HistoryEvent {
	t.Helper()
	var events []*historypb.HistoryEvent
	it := tc.GetWorkflowHistory(context.Background(), workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatalf("history of %s: %v", workflowID, err)
		}
		events = append(events, ev)
	}
	return events
}

// history returns the history of the order's workflow on the stack's Temporal.
func (s *stack) history(t testing.TB, orderID string) []*historypb.HistoryEvent {
	t.Helper()
	return historyEvents(t, s.tc, saga.WorkflowID(orderID))
}

// decide sends an operator's decision (approve, reject, retry-compensations) on the
// order, which must be taken (200); a refused one names the order's failed workflow
// tasks, where a non-determinism error would show.
func (s *stack) decide(t *testing.T, orderID, action string, body map[string]string) {
	t.Helper()
	r := s.call(t, http.MethodPost, "/v1/orders/"+orderID+"/"+action, body, "Authorization", "Bearer "+operatorToken)
	if r.status != http.StatusOK {
		t.Fatalf("%s order %s: %d %s\nits failed workflow tasks: %q", action, orderID, r.status, r.body, workflowTaskFailures(t, s, orderID))
	}
}

// note names orderID as the scenario's representative order for -record-histories, when
// it ran on the dev server the recording reads from.
func (s *stack) note(scenario, orderID string) {
	if s.tc == env.tc {
		env.recording.note(scenario, orderID)
	}
}

// each runs fn as a subtest on every stack.
func each(t *testing.T, fn func(t *testing.T, s *stack)) {
	t.Helper()
	for _, s := range env.stacks {
		t.Run(s.name, func(t *testing.T) { fn(t, s) })
	}
	if len(env.stacks) == 1 {
		t.Run("postgres", func(t *testing.T) { t.Skip("PostgreSQL not configured: set " + dbtest.EnvURL) })
	}
}

func startProc(name, path string, args, extraEnv []string) (*proc.Proc, error) {
	f, err := os.OpenFile(filepath.Join(env.logDir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644) // a restarted process adds to its log
	if err != nil {
		return nil, err
	}
	p, err := proc.Start(name, path, args, extraEnv, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	go func() {
		<-p.Done()
		f.Close()
	}()
	return p, nil
}

// waitOK waits up to a minute for url to answer 200, failing early if p exits.
func waitOK(url string, p *proc.Proc) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return proc.WaitHTTP(ctx, url, p)
}

// handedOut holds the ports freePort returned: the kernel may offer a port again once its
// probe listener closed, and two processes of a stack must never be given the same one.
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// freePort returns a loopback port nothing listens on and that no caller got before.
func freePort() int {
	handedOut.Lock()
	defer handedOut.Unlock()
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			panic(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !handedOut.ports[port] {
			handedOut.ports[port] = true
			return port
		}
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// --- HTTP helpers -----------------------------------------------------------------

// response is an answer of the API: its status, headers and body.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) view(t testing.TB) app.OrderView {
	t.Helper()
	var v app.OrderView
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("decode order view from %d %s: %v", r.status, r.body, err)
	}
	return v
}

func (r response) problem(t testing.TB) problem.Problem {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != problem.ContentType {
		t.Errorf("content type = %q, want %s (body %s)", ct, problem.ContentType, r.body)
	}
	var p problem.Problem
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("decode problem from %d %s: %v", r.status, r.body, err)
	}
	return p
}

// call sends a request to the stack's API. body may be nil, a string (sent raw) or a value
// (sent as JSON). headers alternate names and values.
func (s *stack) call(t testing.TB, method, path string, body any, headers ...string) response {
	t.Helper()
	r, err := s.try(method, path, body, headers...)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// try is call for goroutines: it returns the error instead of failing a test.
func (s *stack) try(method, path string, body any, headers ...string) (response, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return response{}, err
		}
		rd = bytes.NewReader(data)
	}
	base := s.apiURL
	if n := len(s.apiURLs); n > 0 {
		base = s.apiURLs[(s.nextAPI.Add(1)-1)%uint64(n)]
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		return response{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, err
	}
	return response{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

// orderRequest is a valid order body for customer, with items as "SKU:quantity".
func orderRequest(customer, paymentMethod, country string, items ...string) app.PlaceRequest {
	req := app.PlaceRequest{
		CustomerID: customer, PaymentMethod: paymentMethod,
		ShippingAddress: saga.Address{Name: "Ada Lovelace", Line1: "12 Analytical Row", City: "Springfield",
			PostalCode: "12345", Country: country},
	}
	for _, it := range items {
		sku, qty, _ := strings.Cut(it, ":")
		n, _ := strconv.Atoi(qty)
		req.Items = append(req.Items, app.ItemRequest{SKU: sku, Quantity: n})
	}
	return req
}

// place places an order and waits up to 20s for it to settle.
func (s *stack) place(t testing.TB, req app.PlaceRequest) app.OrderView {
	t.Helper()
	r := s.call(t, http.MethodPost, "/v1/orders?wait=20s", req)
	if r.status != http.StatusAccepted {
		t.Fatalf("place order: %d %s", r.status, r.body)
	}
	return r.view(t)
}

// get returns an order's view, from the read model.
func (s *stack) get(t *testing.T, orderID string) app.OrderView {
	t.Helper()
	return s.getPath(t, "/v1/orders/"+orderID)
}

// getLive returns an order's view from its workflow (?live=true): exact to the step.
func (s *stack) getLive(t *testing.T, orderID string) app.OrderView {
	t.Helper()
	return s.getPath(t, "/v1/orders/"+orderID+"?live=true")
}

func (s *stack) getPath(t *testing.T, path string) app.OrderView {
	t.Helper()
	r := s.call(t, http.MethodGet, path, nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, r.status, r.body)
	}
	return r.view(t)
}

// await polls the order's live view until cond holds (every 50ms, up to limit).
func (s *stack) await(t *testing.T, orderID string, limit time.Duration, what string, cond func(app.OrderView) bool) app.OrderView {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		v := s.getLive(t, orderID)
		if cond(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("order %s: %s did not happen within %s; last state %s, steps %+v", orderID, what, limit, v.Status, v.Steps)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func stepStatus(v app.OrderView, step saga.Step) saga.StepStatus {
	for _, st := range v.Steps {
		if st.Name == step {
			return st.Status
		}
	}
	return ""
}

// newCustomer creates a customer with a balance, for tests that measure balances.
func (s *stack) newCustomer(t testing.TB, balance int64) string {
	t.Helper()
	id := "cust-" + randomHex(5)
	if _, err := s.payments.UpsertCustomer(context.Background(), id, payment.CustomerUpdate{BalanceCents: balance}); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.initialBalance[id] = balance
	s.mu.Unlock()
	return id
}

// newProduct creates a product with stock, for tests that measure stock.
func (s *stack) newProduct(t testing.TB, priceCents int64, stock int) string {
	t.Helper()
	sku := "SKU-" + strings.ToUpper(randomHex(4))
	if _, err := s.inventory.UpsertProduct(context.Background(), sku,
		inventory.ProductUpdate{Name: "Test " + sku, PriceCents: &priceCents, Available: &stock}); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.initialStock[sku] = stock
	s.mu.Unlock()
	return sku
}

func (s *stack) product(t *testing.T, sku string) inventory.Product {
	t.Helper()
	p, err := s.inventory.Product(context.Background(), sku)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (s *stack) balance(t *testing.T, customer string) int64 {
	t.Helper()
	c, err := s.payments.Customer(context.Background(), customer)
	if err != nil {
		t.Fatal(err)
	}
	return c.BalanceCents
}

// notFound reports whether err is a service's "not found".
func notFound(err error) bool {
	return errors.Is(err, inventory.ErrNotFound) || errors.Is(err, payment.ErrNotFound) ||
		errors.Is(err, shipping.ErrNotFound) || errors.Is(err, order.ErrNotFound)
}

// searchStatus returns the OrderStatus search attribute of an order's workflow.
func (s *stack) searchStatus(t *testing.T, orderID string) string {
	t.Helper()
	d, err := s.tc.DescribeWorkflow(context.Background(), saga.WorkflowID(orderID), "")
	if err != nil {
		t.Fatal(err)
	}
	p := d.RawResponse.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()["OrderStatus"]
	var status string
	if p == nil || json.Unmarshal(p.GetData(), &status) != nil {
		t.Fatalf("order %s has no OrderStatus search attribute", orderID)
	}
	return status
}

// injectFaults sets a service's faults until t ends, and returns its fault client (to
// clear them earlier).
func injectFaults(t *testing.T, fc *faults.Client, cfg faults.Config) *faults.Client {
	t.Helper()
	if err := fc.Set(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fc.Set(context.Background(), faults.Config{}) })
	return fc
}
