// Command servicesab measures a change to the services side by side: it runs two services
// binaries, A (a build of an earlier revision, say) and B (this tree's), each on its own
// ports and its own data, and places the saga's five calls of an order (create, reserve,
// charge, schedule, confirm) against each in turn, one order at a time, with an idle gap
// after each call, as a service sees an order's steps arrive one by one. Each round of
// -orders orders a side prints:
//   - the five calls' time per order as the caller saw it, median and p90;
//   - the time the handlers spent per call (ordersaga_http_request_duration, POSTs);
//   - the SQL statements per order (ordersaga_db_statements_total, the relays' included);
//
// and B/A of the medians. The sides take turns order by order, and which goes first
// alternates, so that noise on a shared machine falls on both alike.
//
// With -database-url the services keep their data in PostgreSQL, in two databases
// created afresh through that URL (servicesab_a and servicesab_b); without it, each side
// in its own SQLite files.
//
// Usage: servicesab -a PATH -b PATH [-orders 200] [-rounds 3] [-idle 10ms] [-database-url URL]
//
// `make services-ab OLD=<revision>` builds that revision's services and runs this against
// this tree's.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ordersaga/ordersaga/internal/config"
	"github.com/ordersaga/ordersaga/internal/database"
	"github.com/ordersaga/ordersaga/internal/proc"
	"github.com/ordersaga/ordersaga/services/inventory"
	"github.com/ordersaga/ordersaga/services/order"
	"github.com/ordersaga/ordersaga/services/payment"
	"github.com/ordersaga/ordersaga/services/shipping"
)

// token is the bearer token both sides are started with and the calls carry.
const token = "servicesab"

// The order every call places: one book for the seeded rich customer, shipped to Seoul.
const (
	sku      = "SKU-BOOK"
	customer = "cust-rich"
	price    = 1500
)

func main() {
	var o options
	flag.StringVar(&o.a, "a", "", "the services binary of side A (the baseline)")
	flag.StringVar(&o.b, "b", "", "the services binary of side B")
	flag.IntVar(&o.orders, "orders", 200, "orders per side and round")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds")
	flag.DurationVar(&o.idle, "idle", 10*time.Millisecond, "the gap after each call")
	flag.StringVar(&o.databaseURL, "database-url", "", "a PostgreSQL URL to create the two sides' databases through (empty: SQLite)")
	flag.Parse()
	if o.a == "" || o.b == "" || o.orders < 1 || o.rounds < 1 || o.idle < 0 {
		fmt.Fprintln(os.Stderr, "servicesab: -a and -b are required, -orders and -rounds at least 1, -idle not negative")
		os.Exit(2)
	}
	if err := run(context.Background(), o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "servicesab:", err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	a, b        string
	orders      int
	rounds      int
	idle        time.Duration
	databaseURL string
}

// side is one running services process and the clients of its four services.
type side struct {
	name  string
	p     *proc.Proc
	ports map[string]int
	o     *order.Client
	i     *inventory.Client
	pay   *payment.Client
	s     *shipping.Client
	times []time.Duration
}

func run(ctx context.Context, o options, out io.Writer) error {
	dir, err := os.MkdirTemp("", "servicesab")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	store := "SQLite"
	if o.databaseURL != "" {
		store = "PostgreSQL"
	}
	var sides []*side
	ports := proc.FreePorts{}
	defer func() {
		for _, s := range sides {
			_ = s.p.Stop(10 * time.Second)
		}
	}()
	for _, x := range []struct{ name, bin string }{{"a", o.a}, {"b", o.b}} {
		s, err := start(ctx, x.name, x.bin, dir, o.databaseURL, ports)
		if s != nil && s.p != nil {
			sides = append(sides, s) // stopped by the deferred function, started or not
		}
		if err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "A = %s, B = %s, on %s; %d orders per side and round, %s after each call\n", o.a, o.b, store, o.orders, o.idle)
	for r := range o.rounds {
		before := make([]counters, len(sides))
		for i, s := range sides {
			if before[i], err = s.counters(); err != nil {
				return err
			}
		}
		for _, s := range sides {
			s.times = s.times[:0]
		}
		for k := range o.orders {
			for j := range sides {
				s := sides[(j+k+r)%len(sides)]
				d, err := s.order(ctx, fmt.Sprintf("ab-%d-%s-%d-%d", time.Now().UnixNano(), s.name, r, k), o.idle)
				if err != nil {
					return fmt.Errorf("side %s: %w", s.name, err)
				}
				s.times = append(s.times, d)
			}
		}
		var medians []time.Duration
		for i, s := range sides {
			after, err := s.counters()
			if err != nil {
				return err
			}
			slices.Sort(s.times)
			med, p90 := s.times[len(s.times)/2], s.times[len(s.times)*9/10]
			medians = append(medians, med)
			calls := after.posts - before[i].posts
			fmt.Fprintf(out, "round %d, %s: five calls per order: median %.2f ms, p90 %.2f ms; handlers %.3f ms per call; %.1f statements per order\n",
				r+1, strings.ToUpper(s.name), ms(med), ms(p90), (after.postSeconds-before[i].postSeconds)*1000/calls,
				(after.statements-before[i].statements)/float64(len(s.times)))
		}
		fmt.Fprintf(out, "round %d: B/A of the medians %.3f\n", r+1, float64(medians[1])/float64(medians[0]))
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// start runs the services binary bin as side name, keeping its data under dir (SQLite)
// or in a fresh database servicesab_<name> beside databaseURL's, on ports from ports,
// and readies the stock and the balance its orders need.
func start(ctx context.Context, name, bin, dir, databaseURL string, ports proc.FreePorts) (*side, error) {
	s := &side{name: name, ports: map[string]int{}}
	env := []string{"SERVICE_TOKENS=" + token, "SEED_DEMO_DATA=true", "DATA_DIR=" + filepath.Join(dir, name)}
	for _, svc := range []string{config.Order, config.Inventory, config.Payment, config.Shipping, "nats"} {
		p, err := ports.Next()
		if err != nil {
			return nil, err
		}
		s.ports[svc] = p
		env = append(env, config.EnvName(svc, "PORT")+"="+strconv.Itoa(p))
	}
	if databaseURL != "" {
		if err := database.DropPostgres(ctx, databaseURL, "servicesab_"+name); err != nil {
			return nil, err
		}
		u, err := database.CreatePostgres(ctx, databaseURL, "servicesab_"+name)
		if err != nil {
			return nil, err
		}
		env = append(env, "DATABASE_URL="+u)
	}
	logFile, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	if s.p, err = proc.Start("services-"+name, bin, nil, env, logFile); err != nil {
		return nil, err
	}
	base := func(svc string) string { return fmt.Sprintf("http://127.0.0.1:%d", s.ports[svc]) }
	for _, svc := range []string{config.Order, config.Inventory, config.Payment, config.Shipping} {
		if err := proc.WaitHTTPWithin(ctx, time.Minute, base(svc)+"/healthz", s.p); err != nil {
			return s, fmt.Errorf("side %s: %w", name, err)
		}
	}
	hc := &http.Client{Transport: bearer{http.DefaultTransport}}
	s.o, s.i = order.NewClient(base(config.Order), hc), inventory.NewClient(base(config.Inventory), hc)
	s.pay, s.s = payment.NewClient(base(config.Payment), hc), shipping.NewClient(base(config.Shipping), hc)
	stock := 1_000_000
	if _, err := s.i.UpsertProduct(ctx, sku, inventory.ProductUpdate{Available: &stock}); err != nil {
		return s, fmt.Errorf("side %s: restock: %w", name, err)
	}
	if _, err := s.pay.UpsertCustomer(ctx, customer, payment.CustomerUpdate{BalanceCents: 1_000_000_000_000}); err != nil {
		return s, fmt.Errorf("side %s: top up: %w", name, err)
	}
	return s, nil
}

// order places the saga's five calls of order id, sleeping idle after each, and returns
// the time the calls took.
func (s *side) order(ctx context.Context, id string, idle time.Duration) (time.Duration, error) {
	addr := struct{ name, line1, city, postal, country string }{"Kim", "1 Sejong-daero", "Seoul", "04524", "KR"}
	calls := []func() error{
		func() error {
			_, err := s.o.Create(ctx, order.CreateRequest{OrderID: id, CustomerID: customer, TotalCents: price, Currency: "USD",
				Items: []order.Item{{SKU: sku, Quantity: 1, UnitPriceCents: price}}, PaymentMethod: payment.MethodVisa,
				ShippingAddress: order.Address{Name: addr.name, Line1: addr.line1, City: addr.city, PostalCode: addr.postal, Country: addr.country}})
			return err
		},
		func() error {
			_, err := s.i.Reserve(ctx, id, []inventory.Item{{SKU: sku, Quantity: 1}})
			return err
		},
		func() error {
			_, err := s.pay.Charge(ctx, payment.ChargeRequest{OrderID: id, CustomerID: customer, AmountCents: price,
				Currency: "USD", PaymentMethod: payment.MethodVisa})
			return err
		},
		func() error {
			_, err := s.s.Schedule(ctx, shipping.ScheduleRequest{OrderID: id, Items: []shipping.Item{{SKU: sku, Quantity: 1}},
				Address: shipping.Address{Name: addr.name, Line1: addr.line1, City: addr.city, PostalCode: addr.postal, Country: addr.country}})
			return err
		},
		func() error {
			_, err := s.o.Confirm(ctx, id)
			return err
		},
	}
	var took time.Duration
	for _, call := range calls {
		start := time.Now()
		if err := call(); err != nil {
			return 0, err
		}
		took += time.Since(start)
		time.Sleep(idle)
	}
	return took, nil
}

// counters are a side's totals so far, summed over its four services.
type counters struct {
	statements  float64 // SQL statements run
	posts       float64 // POST requests served
	postSeconds float64 // time the handlers spent on them
}

// counters reads the side's /metrics.
func (s *side) counters() (counters, error) {
	var c counters
	for _, svc := range []string{config.Order, config.Inventory, config.Payment, config.Shipping} {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", s.ports[svc]))
		if err != nil {
			return c, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return c, err
		}
		for _, line := range strings.Split(string(body), "\n") {
			name, _, _ := strings.Cut(line, "{")
			fields := strings.Fields(line)
			if len(fields) < 2 {
				continue
			}
			v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
			if err != nil {
				continue
			}
			post := strings.Contains(line, `method="POST"`)
			switch {
			case name == "ordersaga_db_statements_total":
				c.statements += v
			case name == "ordersaga_http_request_duration_seconds_count" && post:
				c.posts += v
			case name == "ordersaga_http_request_duration_seconds_sum" && post:
				c.postSeconds += v
			}
		}
	}
	return c, nil
}

// bearer adds the services' token to each request.
type bearer struct{ next http.RoundTripper }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+token)
	return b.next.RoundTrip(r)
}
