// Package loadgen places orders through the public API as many customers would at once,
// follows each one to its outcome, and reports what happened: throughput, latencies,
// outcomes, and every answer that was not a success. cmd/loadgen is its command; the
// end-to-end tests use it too.
//
// It behaves like a good client: every order carries an Idempotency-Key, so a request
// whose answer was lost is simply sent again, and a 503 or 429 is retried after its
// Retry-After.
package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ordersaga/ordersaga/app"
	"github.com/ordersaga/ordersaga/internal/problem"
	"github.com/ordersaga/ordersaga/saga"
)

// Kind is a kind of order in the mix, each with its expected outcome.
type Kind string

// The kinds of orders.
const (
	// Happy orders pay with a good card and ship to a served country: COMPLETED.
	Happy Kind = "happy"
	// Declined orders pay with the declined test card: REJECTED (PaymentDeclined).
	Declined Kind = "declined"
	// Unshippable orders ship to a country nobody serves: REJECTED (ShippingUnavailable).
	Unshippable Kind = "unshippable"
	// Flaky orders pay with the flaky test card (two 503s, then a charge): COMPLETED.
	Flaky Kind = "flaky"
	// OutOfStock orders ask for a product with no stock: REJECTED (OutOfStock).
	OutOfStock Kind = "out-of-stock"
	// Approval orders are large enough to need an operator; the generator approves every
	// other one and rejects the rest.
	Approval Kind = "approval"
	// Cancel orders are cancelled by the customer a random moment after they are placed:
	// CANCELLED, or COMPLETED when the cancel came past the point of no return.
	Cancel Kind = "cancel"
)

// Kinds lists every kind, in the order reports show them.
var Kinds = []Kind{Happy, Declined, Unshippable, Flaky, OutOfStock, Approval, Cancel}

// Mix weighs the kinds: Mix{Happy: 6, Declined: 1} places about six happy orders for each
// declined one.
type Mix map[Kind]int

// Catalog names what the orders use. The orders must be the only users of these
// products and customers for the books to balance.
type Catalog struct {
	// Customers place the orders, in turn; their balances must cover them.
	Customers []string
	// SKU is a cheap product in stock; SoldOutSKU one with no stock; BigSKU one whose price
	// needs approval.
	SKU, SoldOutSKU, BigSKU string
}

// Config is a load run.
type Config struct {
	// APIURL is the public API's base URL.
	APIURL string
	// Orders is how many orders to place; Concurrency how many customers place them at once.
	Orders, Concurrency int
	Mix                 Mix
	Catalog             Catalog
	// OperatorToken decides Approval orders.
	OperatorToken string
	// Poll is the interval of the GETs that follow an order (default 50ms).
	Poll time.Duration
	// Settle bounds how long an order is followed after it was placed (default 2m).
	Settle time.Duration
	// RunID makes the orders' Idempotency-Keys unique to this run (default: random).
	RunID string
	// Seed makes the mix and the cancel delays repeatable (default: random).
	Seed uint64
	// Rate paces the orders: at most this many are placed per second (0: as fast as the
	// customers place them).
	Rate float64
	// HTTP is the client to use (default: one with a 40 s timeout per request that keeps
	// a connection alive for each customer).
	HTTP *http.Client
}

// Answer is one answer that was not a success.
type Answer struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	Status int    `json:"status"`
	// Code is the problem's code, or the transport error when there was no answer.
	Code string `json:"code"`
	// RetryAfter is the answer's Retry-After, when it had one.
	RetryAfter time.Duration `json:"retryAfterNs,omitempty"`
	At         time.Time     `json:"at"`
}

func (a Answer) String() string {
	return fmt.Sprintf("%s %s → %d %s", a.Method, a.Path, a.Status, a.Code)
}

// Order is what happened to one order.
type Order struct {
	ID   string
	Kind Kind
	// Status is the last status seen: final unless the order did not settle in time.
	Status saga.OrderStatus
	// ErrorType is the failure's type of a REJECTED order.
	ErrorType string
	// Placed is false when the order could not be placed at all.
	Placed bool
	// Accept is how long POST /v1/orders took, retries included; EndToEnd from the first
	// POST until the final status was seen.
	Accept, EndToEnd time.Duration
	// Retries counts the POSTs sent again after a 503, a 429 or a lost answer.
	Retries int
	// PlacedAt is when the order was accepted; SettledAt when its final status was seen.
	PlacedAt, SettledAt time.Time
}

// Stats are the live counters of a run, for a progress display: read them atomically.
type Stats struct {
	Placed, Settled, Retries, Failures int64
	// Completed, Rejected, Cancelled count the settled orders by outcome; Unavailable the
	// 503 and 429 answers (each retried), Unexpected the other failed answers.
	Completed, Rejected, Cancelled, Unavailable, Unexpected int64
}

// Run places cfg.Orders orders and follows each to its end (or cfg.Settle), then returns
// the report. stats, when not nil, is updated as the run goes (read it atomically). It
// returns an error only for an invalid config; failures are in the report.
func Run(ctx context.Context, cfg Config, stats *Stats) (*Report, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	if stats == nil {
		stats = &Stats{}
	}
	g := &generator{cfg: cfg, stats: stats, rand: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x5eed))}
	kinds := g.plan()
	jobs := make(chan int)
	results := make([]Order, cfg.Orders)
	start := time.Now()
	var wg sync.WaitGroup
	for range cfg.Concurrency {
		wg.Go(func() {
			for i := range jobs {
				results[i] = g.order(ctx, i, kinds[i])
			}
		})
	}
	var tick <-chan time.Time
	if cfg.Rate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / cfg.Rate))
		defer t.Stop()
		tick = t.C
	}
	for i := range cfg.Orders {
		if tick != nil {
			select {
			case <-tick:
			case <-ctx.Done():
			}
		}
		select {
		case jobs <- i:
		case <-ctx.Done():
		}
	}
	close(jobs)
	wg.Wait()
	return g.report(results, time.Since(start)), nil
}

func (c *Config) defaults() error {
	switch {
	case c.APIURL == "":
		return errors.New("loadgen: no API URL")
	case c.Orders <= 0 || c.Concurrency <= 0:
		return errors.New("loadgen: orders and concurrency must be positive")
	case len(c.Catalog.Customers) == 0 || c.Catalog.SKU == "":
		return errors.New("loadgen: the catalog needs customers and a SKU")
	}
	if len(c.Mix) == 0 {
		c.Mix = Mix{Happy: 1}
	}
	for k, w := range c.Mix {
		switch {
		case w < 0:
			return fmt.Errorf("loadgen: weight of %s is negative", k)
		case w > 0 && k == OutOfStock && c.Catalog.SoldOutSKU == "":
			return errors.New("loadgen: out-of-stock orders need Catalog.SoldOutSKU")
		case w > 0 && k == Approval && (c.Catalog.BigSKU == "" || c.OperatorToken == ""):
			return errors.New("loadgen: approval orders need Catalog.BigSKU and an OperatorToken")
		case !slices.Contains(Kinds, k):
			return fmt.Errorf("loadgen: unknown kind %q", k)
		}
	}
	if c.Poll <= 0 {
		c.Poll = 50 * time.Millisecond
	}
	if c.Settle <= 0 {
		c.Settle = 2 * time.Minute
	}
	if c.RunID == "" {
		c.RunID = strconv.FormatUint(rand.Uint64(), 36)
	}
	if c.Seed == 0 {
		c.Seed = rand.Uint64()
	}
	if c.HTTP == nil {
		// Customers keep their connections, as browsers and load balancers do. The default
		// transport keeps two idle connections a host and closes the others, so most
		// requests from many customers would pay the API for a new TCP connection.
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = c.Concurrency
		c.HTTP = &http.Client{Timeout: 40 * time.Second, Transport: t}
	}
	return nil
}

type generator struct {
	cfg   Config
	stats *Stats

	mu      sync.Mutex
	rand    *rand.Rand
	answers []Answer
}

// plan draws the kind of every order from the mix.
func (g *generator) plan() []Kind {
	var bag []Kind
	for _, k := range Kinds {
		for range g.cfg.Mix[k] {
			bag = append(bag, k)
		}
	}
	kinds := make([]Kind, g.cfg.Orders)
	for i := range kinds {
		kinds[i] = bag[g.rand.IntN(len(bag))]
	}
	return kinds
}

func (g *generator) intn(n int) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.rand.IntN(n)
}

// request is an order of kind k, placed by the i-th customer in turn.
func (g *generator) request(i int, k Kind) app.PlaceRequest {
	c := g.cfg.Catalog
	req := app.PlaceRequest{
		CustomerID:    c.Customers[i%len(c.Customers)],
		Items:         []app.ItemRequest{{SKU: c.SKU, Quantity: 1 + i%3}},
		PaymentMethod: "pm_card_visa",
		ShippingAddress: saga.Address{Name: "Load Tester", Line1: fmt.Sprintf("%d Load St", i), City: "Springfield",
			PostalCode: "12345", Country: "US"},
	}
	switch k {
	case Declined:
		req.PaymentMethod = "pm_card_declined"
	case Unshippable:
		req.ShippingAddress.Country = "XX"
	case Flaky:
		req.PaymentMethod = "pm_card_flaky"
	case OutOfStock:
		req.Items = []app.ItemRequest{{SKU: c.SoldOutSKU, Quantity: 1}}
	case Approval:
		req.Items = []app.ItemRequest{{SKU: c.BigSKU, Quantity: 1}}
	}
	return req
}

// order places one order and follows it.
func (g *generator) order(ctx context.Context, i int, k Kind) Order {
	o := Order{Kind: k}
	start := time.Now()
	key := fmt.Sprintf("load-%s-%d", g.cfg.RunID, i)
	var view app.OrderView
	for {
		status, err := g.do(ctx, http.MethodPost, "/v1/orders", g.request(i, k), &view, "Idempotency-Key", key)
		if err == nil && (status == http.StatusAccepted || status == http.StatusOK) {
			break
		}
		if !retryable(err) || ctx.Err() != nil || time.Since(start) > g.cfg.Settle {
			atomic.AddInt64(&g.stats.Failures, 1)
			return o
		}
		o.Retries++
		atomic.AddInt64(&g.stats.Retries, 1)
		sleep(ctx, retryAfter(err))
	}
	o.ID, o.Placed, o.Accept, o.Status, o.PlacedAt = view.OrderID, true, time.Since(start), view.Status, time.Now()
	atomic.AddInt64(&g.stats.Placed, 1)

	var cancelAt time.Time
	if k == Cancel {
		cancelAt = time.Now().Add(time.Duration(g.intn(400)) * time.Millisecond)
	}
	decided := false
	deadline := start.Add(g.cfg.Settle)
	for !view.Status.Final() && time.Now().Before(deadline) && ctx.Err() == nil {
		if !cancelAt.IsZero() && time.Now().After(cancelAt) {
			cancelAt = time.Time{}
			if _, err := g.do(ctx, http.MethodPost, "/v1/orders/"+o.ID+"/cancel", app.Decision{Note: "load test"}, nil); retryable(err) {
				cancelAt = time.Now().Add(retryAfter(err)) // asked to come back: the customer tries again
			}
		}
		if k == Approval && !decided && view.Status == saga.StatusAwaitingApproval {
			action := "approve"
			if i%2 == 1 {
				action = "reject"
			}
			_, err := g.do(ctx, http.MethodPost, "/v1/orders/"+o.ID+"/"+action, app.Decision{By: "loadgen"}, nil,
				"Authorization", "Bearer "+g.cfg.OperatorToken)
			decided = !retryable(err) // an operator tries again after an outage
		}
		sleep(ctx, g.cfg.Poll)
		var v app.OrderView
		if status, err := g.do(ctx, http.MethodGet, "/v1/orders/"+o.ID, nil, &v); err == nil && status == http.StatusOK {
			view = v
		}
	}
	o.Status, o.EndToEnd = view.Status, time.Since(start)
	if f := view.Failure; f != nil {
		o.ErrorType = f.Type
	}
	if view.Status.Final() {
		o.SettledAt = time.Now()
		atomic.AddInt64(&g.stats.Settled, 1)
		switch view.Status {
		case saga.StatusCompleted:
			atomic.AddInt64(&g.stats.Completed, 1)
		case saga.StatusRejected:
			atomic.AddInt64(&g.stats.Rejected, 1)
		case saga.StatusCancelled:
			atomic.AddInt64(&g.stats.Cancelled, 1)
		}
	}
	return o
}

// callError is a request that got no answer, or a non-2xx one.
type callError struct {
	status     int
	code       string
	retryAfter time.Duration
}

func (e *callError) Error() string { return fmt.Sprintf("%d %s", e.status, e.code) }

func retryable(err error) bool {
	var ce *callError
	if !errors.As(err, &ce) {
		return false
	}
	return ce.status == 0 || ce.status == http.StatusServiceUnavailable || ce.status == http.StatusTooManyRequests
}

func retryAfter(err error) time.Duration {
	var ce *callError
	if errors.As(err, &ce) && ce.retryAfter > 0 {
		return ce.retryAfter
	}
	return 500 * time.Millisecond
}

// do sends one request and decodes a 2xx answer into out. A non-2xx answer (or none) is
// recorded and returned as a *callError. headers alternate names and values.
func (g *generator) do(ctx context.Context, method, path string, in, out any, headers ...string) (int, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, g.cfg.APIURL+path, body)
	if err != nil {
		return 0, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := g.cfg.HTTP.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		ce := &callError{code: err.Error()}
		g.record(Answer{Method: method, Path: path, Code: ce.code, At: time.Now()})
		return 0, ce
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		ce := &callError{code: "reading the answer: " + err.Error()}
		g.record(Answer{Method: method, Path: path, Code: ce.code, At: time.Now()})
		return 0, ce
	}
	if resp.StatusCode >= 300 {
		var p problem.Problem
		_ = json.Unmarshal(data, &p)
		ce := &callError{status: resp.StatusCode, code: p.Code}
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
			ce.retryAfter = time.Duration(s) * time.Second
		}
		g.record(Answer{Method: method, Path: path, Status: resp.StatusCode, Code: p.Code, RetryAfter: ce.retryAfter, At: time.Now()})
		return resp.StatusCode, ce
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("decode %s %s: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

func (g *generator) record(a Answer) {
	if unavailable(a) {
		atomic.AddInt64(&g.stats.Unavailable, 1)
	} else if !refused(a) {
		atomic.AddInt64(&g.stats.Unexpected, 1)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.answers = append(g.answers, a)
}

// unavailable reports whether a asked the client to come back: a 503 or 429 with a
// Retry-After, what a service says during a short outage.
func unavailable(a Answer) bool {
	return (a.Status == http.StatusServiceUnavailable || a.Status == http.StatusTooManyRequests) && a.RetryAfter > 0
}

// refused reports whether a rightly refused the request: a cancel that came past the
// point of no return, or an operator's decision on an order already decided.
func refused(a Answer) bool {
	return a.Status == http.StatusConflict && a.Code == "InvalidOrderState"
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
