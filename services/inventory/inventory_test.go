package inventory_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga/internal/database"
	"github.com/ordersaga/ordersaga/internal/database/dbtest"
	"github.com/ordersaga/ordersaga/internal/faults"
	"github.com/ordersaga/ordersaga/internal/httpx"
	"github.com/ordersaga/ordersaga/internal/servicetest"
	"github.com/ordersaga/ordersaga/internal/validate"
	"github.com/ordersaga/ordersaga/services/inventory"
)

// service is an inventory service on a real database, served over real HTTP.
type service struct {
	url    string
	client *inventory.Client
}

func start(t *testing.T, cfg database.Config) service {
	t.Helper()
	db := servicetest.Open(t, cfg)
	url := servicetest.Serve(t, db, inventory.Operations, inventory.New)
	if err := inventory.Seed(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	return service{url: url, client: inventory.NewClient(url, nil)}
}

func (s service) product(t *testing.T, sku string) inventory.Product {
	t.Helper()
	p, err := s.client.Product(context.Background(), sku)
	if err != nil {
		t.Fatalf("get product %s: %v", sku, err)
	}
	return p
}

func (s service) restock(t *testing.T, sku string, available int) {
	t.Helper()
	price := int64(1000)
	if _, err := s.client.UpsertProduct(context.Background(), sku,
		inventory.ProductUpdate{Name: sku, PriceCents: &price, Available: &available}); err != nil {
		t.Fatalf("restock %s: %v", sku, err)
	}
}

func TestSeedCatalogue(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, cfg database.Config) {
		s := start(t, cfg)
		ps, err := s.client.Products(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]inventory.Product{}
		for _, p := range ps {
			got[p.SKU] = p
		}
		for _, want := range inventory.SeedProducts {
			if g := got[want.SKU]; g.PriceCents != want.PriceCents || g.Available != want.Available || g.Reserved != 0 {
				t.Errorf("%s = %+v, want price %d available %d", want.SKU, g, want.PriceCents, want.Available)
			}
		}
		t.Run("seeding again on restart changes nothing", func(t *testing.T) {
			_, err := s.client.Reserve(context.Background(), "o-seed", []inventory.Item{{SKU: "SKU-BOOK", Quantity: 3}})
			if err != nil {
				t.Fatal(err)
			}
			again := start(t, cfg) // a second process on the same database
			if p := again.product(t, "SKU-BOOK"); p.Available != 97 || p.Reserved != 3 {
				t.Errorf("after restart SKU-BOOK = %+v, want available 97 reserved 3", p)
			}
		})
	})
}

func TestReserve(t *testing.T) {
	ctx := context.Background()
	dbtest.Each(t, func(t *testing.T, cfg database.Config) {
		s := start(t, cfg)
		items := []inventory.Item{{SKU: "SKU-BOOK", Quantity: 2}, {SKU: "SKU-MUG", Quantity: 1}}

		t.Run("reserving takes the stock of every item", func(t *testing.T) {
			r, err := s.client.Reserve(ctx, "o-1", items)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != inventory.Reserved || len(r.Items) != 2 {
				t.Fatalf("reservation = %+v", r)
			}
			if p := s.product(t, "SKU-BOOK"); p.Available != 98 || p.Reserved != 2 {
				t.Errorf("SKU-BOOK = %+v, want available 98 reserved 2", p)
			}
		})
		t.Run("reserving again returns the first reservation and takes nothing more", func(t *testing.T) {
			first, _ := s.client.Reservation(ctx, "o-1")
			again, err := s.client.Reserve(ctx, "o-1", []inventory.Item{{SKU: "SKU-MUG", Quantity: 1}, {SKU: "SKU-BOOK", Quantity: 2}})
			if err != nil {
				t.Fatal(err)
			}
			if !again.CreatedAt.Equal(first.CreatedAt) || again.Status != inventory.Reserved {
				t.Errorf("replay = %+v, want the first reservation %+v", again, first)
			}
			if p := s.product(t, "SKU-BOOK"); p.Available != 98 || p.Reserved != 2 {
				t.Errorf("SKU-BOOK = %+v, want available 98 reserved 2", p)
			}
		})
		t.Run("reserving other items for the same order is a conflict", func(t *testing.T) {
			_, err := s.client.Reserve(ctx, "o-1", []inventory.Item{{SKU: "SKU-BOOK", Quantity: 5}})
			if !errors.Is(err, inventory.ErrConflict) {
				t.Fatalf("err = %v, want ErrConflict", err)
			}
			if p := s.product(t, "SKU-BOOK"); p.Available != 98 {
				t.Errorf("SKU-BOOK available = %d, want 98", p.Available)
			}
		})
		t.Run("out of stock changes nothing, not even the other items", func(t *testing.T) {
			_, err := s.client.Reserve(ctx, "o-2", []inventory.Item{{SKU: "SKU-MUG", Quantity: 1}, {SKU: "SKU-SOLDOUT", Quantity: 1}})
			if !errors.Is(err, inventory.ErrOutOfStock) {
				t.Fatalf("err = %v, want ErrOutOfStock", err)
			}
			if p := s.product(t, "SKU-MUG"); p.Available != 99 || p.Reserved != 1 {
				t.Errorf("SKU-MUG = %+v, want available 99 reserved 1", p)
			}
			if _, err := s.client.Reservation(ctx, "o-2"); !errors.Is(err, inventory.ErrNotFound) {
				t.Errorf("reservation after out of stock: err = %v, want ErrNotFound", err)
			}
		})
		t.Run("an unknown product changes nothing", func(t *testing.T) {
			_, err := s.client.Reserve(ctx, "o-3", []inventory.Item{{SKU: "SKU-MUG", Quantity: 1}, {SKU: "SKU-NOPE", Quantity: 1}})
			if !errors.Is(err, inventory.ErrUnknownProduct) || !strings.Contains(err.Error(), "SKU-NOPE") {
				t.Fatalf("err = %v, want ErrUnknownProduct naming SKU-NOPE", err)
			}
			if p := s.product(t, "SKU-MUG"); p.Available != 99 {
				t.Errorf("SKU-MUG available = %d, want 99", p.Available)
			}
		})
		t.Run("an unknown product is named before short stock, whichever comes first", func(t *testing.T) {
			// Reserved in SKU order: SKU-SOLDOUT runs short before SKU-ZZZ is reached.
			_, err := s.client.Reserve(ctx, "o-3b", []inventory.Item{
				{SKU: "SKU-ZZZ", Quantity: 1}, {SKU: "SKU-SOLDOUT", Quantity: 1}, {SKU: "SKU-YYY", Quantity: 1}})
			if !errors.Is(err, inventory.ErrUnknownProduct) || !strings.Contains(err.Error(), "SKU-YYY, SKU-ZZZ") {
				t.Fatalf("err = %v, want ErrUnknownProduct naming SKU-YYY and SKU-ZZZ", err)
			}
		})
	})
}

func TestRelease(t *testing.T) {
	ctx := context.Background()
	dbtest.Each(t, func(t *testing.T, cfg database.Config) {
		s := start(t, cfg)
		t.Run("releasing returns the stock once, however often it is called", func(t *testing.T) {
			if _, err := s.client.Reserve(ctx, "o-1", []inventory.Item{{SKU: "SKU-LAPTOP", Quantity: 3}}); err != nil {
				t.Fatal(err)
			}
			for i := range 3 {
				r, err := s.client.Release(ctx, "o-1")
				if err != nil {
					t.Fatalf("release #%d: %v", i+1, err)
				}
				if r.Status != inventory.Released {
					t.Errorf("release #%d status = %s, want RELEASED", i+1, r.Status)
				}
			}
			if p := s.product(t, "SKU-LAPTOP"); p.Available != 10 || p.Reserved != 0 {
				t.Errorf("SKU-LAPTOP = %+v, want available 10 reserved 0", p)
			}
		})
		t.Run("a reservation arriving after its release is refused", func(t *testing.T) {
			_, err := s.client.Reserve(ctx, "o-1", []inventory.Item{{SKU: "SKU-LAPTOP", Quantity: 3}})
			if !errors.Is(err, inventory.ErrCompensated) {
				t.Fatalf("err = %v, want ErrCompensated", err)
			}
			if p := s.product(t, "SKU-LAPTOP"); p.Available != 10 || p.Reserved != 0 {
				t.Errorf("SKU-LAPTOP = %+v, want available 10 reserved 0", p)
			}
		})
		t.Run("releasing an order that never reserved leaves a tombstone that refuses a late reservation", func(t *testing.T) {
			r, err := s.client.Release(ctx, "o-never")
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != inventory.Voided || len(r.Items) != 0 {
				t.Fatalf("tombstone = %+v, want VOIDED with no items", r)
			}
			_, err = s.client.Reserve(ctx, "o-never", []inventory.Item{{SKU: "SKU-RARE", Quantity: 1}})
			if !errors.Is(err, inventory.ErrCompensated) {
				t.Fatalf("late reserve: err = %v, want ErrCompensated", err)
			}
			if p := s.product(t, "SKU-RARE"); p.Available != 1 || p.Reserved != 0 {
				t.Errorf("SKU-RARE = %+v, want available 1 reserved 0", p)
			}
			if again, err := s.client.Release(ctx, "o-never"); err != nil || again.Status != inventory.Voided {
				t.Errorf("second release = %+v, %v; want the VOIDED tombstone", again, err)
			}
		})
	})
}

func TestConcurrency(t *testing.T) {
	ctx := context.Background()
	dbtest.Each(t, func(t *testing.T, cfg database.Config) {
		s := start(t, cfg)
		t.Run("50 concurrent orders for the last item: exactly one gets it", func(t *testing.T) {
			var (
				wg                   sync.WaitGroup
				mu                   sync.Mutex
				won, outOfStock, bad int
			)
			for i := range 50 {
				wg.Go(func() {
					_, err := s.client.Reserve(ctx, fmt.Sprintf("rare-%d", i), []inventory.Item{{SKU: "SKU-RARE", Quantity: 1}})
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						won++
					case errors.Is(err, inventory.ErrOutOfStock):
						outOfStock++
					default:
						bad++
						t.Errorf("reserve rare-%d: %v", i, err)
					}
				})
			}
			wg.Wait()
			if won != 1 || outOfStock != 49 || bad != 0 {
				t.Errorf("won %d, out of stock %d, other errors %d; want 1, 49, 0", won, outOfStock, bad)
			}
			if p := s.product(t, "SKU-RARE"); p.Available != 0 || p.Reserved != 1 {
				t.Errorf("SKU-RARE = %+v, want available 0 reserved 1", p)
			}
		})
		t.Run("200 concurrent reserves and releases keep available plus reserved equal to the stock", func(t *testing.T) {
			s.restock(t, "SKU-CHURN", 30)
			var wg sync.WaitGroup
			errs := make(chan error, 200)
			for i := range 200 {
				order := fmt.Sprintf("churn-%d", i%100) // each order is reserved and released once, in either order
				wg.Go(func() {
					var err error
					if i < 100 {
						_, err = s.client.Reserve(ctx, order, []inventory.Item{{SKU: "SKU-CHURN", Quantity: 1 + i%3}})
					} else {
						_, err = s.client.Release(ctx, order)
					}
					if err != nil && !errors.Is(err, inventory.ErrOutOfStock) && !errors.Is(err, inventory.ErrCompensated) {
						errs <- fmt.Errorf("%s: %w", order, err)
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			p := s.product(t, "SKU-CHURN")
			if p.Available+p.Reserved != 30 || p.Available < 0 || p.Reserved < 0 {
				t.Errorf("SKU-CHURN available %d + reserved %d = %d, want 30", p.Available, p.Reserved, p.Available+p.Reserved)
			}
			// Every order was released (or voided) once, so nothing may stay reserved.
			if p.Reserved != 0 {
				t.Errorf("SKU-CHURN reserved = %d after every order was released, want 0", p.Reserved)
			}
		})
	})
}

func TestQuote(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, cfg database.Config) {
		s := start(t, cfg)
		q, err := s.client.Quote(context.Background(), []inventory.Item{{SKU: "SKU-BOOK", Quantity: 2}, {SKU: "SKU-MUG", Quantity: 3}})
		if err != nil {
			t.Fatal(err)
		}
		if q.TotalCents != 2*1500+3*800 || q.Currency != "USD" || q.Items[1].UnitPriceCents != 800 {
			t.Errorf("quote = %+v, want total 5400 USD", q)
		}
		if _, err := s.client.Quote(context.Background(), []inventory.Item{{SKU: "SKU-NOPE", Quantity: 1}}); !errors.Is(err, inventory.ErrUnknownProduct) {
			t.Errorf("quote of unknown SKU: err = %v, want ErrUnknownProduct", err)
		}
	})
}

func TestBadInput(t *testing.T) {
	huge := `{"orderId":"o-big","items":[{"sku":"SKU-BOOK","quantity":1}],"pad":"` + strings.Repeat("x", httpx.MaxBodyBytes) + `"}`
	cases := []struct {
		name, method, path, contentType, body string
		status                                int
		code                                  string
	}{
		{"malformed JSON", "POST", "/reservations", "application/json", `{"orderId":"o-x",`, 400, "MalformedRequest"},
		{"a JSON array instead of an object", "POST", "/reservations", "application/json", `[1,2]`, 400, "MalformedRequest"},
		{"two JSON values", "POST", "/reservations", "application/json", `{"orderId":"o-x","items":[{"sku":"SKU-BOOK","quantity":1}]} {}`, 400, "MalformedRequest"},
		{"an unknown field", "POST", "/reservations", "application/json", `{"orderId":"o-x","items":[{"sku":"SKU-BOOK","quantity":1}],"qty":1}`, 400, "MalformedRequest"},
		{"a string quantity", "POST", "/reservations", "application/json", `{"orderId":"o-x","items":[{"sku":"SKU-BOOK","quantity":"1"}]}`, 400, "MalformedRequest"},
		{"zero quantity", "POST", "/reservations", "application/json", `{"orderId":"o-x","items":[{"sku":"SKU-BOOK","quantity":0}]}`, 422, "ValidationFailed"},
		{"negative quantity", "POST", "/reservations", "application/json", `{"orderId":"o-x","items":[{"sku":"SKU-BOOK","quantity":-2}]}`, 422, "ValidationFailed"},
		{"a missing order ID", "POST", "/reservations", "application/json", `{"items":[{"sku":"SKU-BOOK","quantity":1}]}`, 422, "ValidationFailed"},
		{"missing items", "POST", "/reservations", "application/json", `{"orderId":"o-x"}`, 422, "ValidationFailed"},
		{"the same SKU twice", "POST", "/reservations", "application/json", `{"orderId":"o-x","items":[{"sku":"SKU-BOOK","quantity":1},{"sku":"SKU-BOOK","quantity":1}]}`, 422, "ValidationFailed"},
		{"an unknown SKU", "POST", "/reservations", "application/json", `{"orderId":"o-x","items":[{"sku":"SKU-NOPE","quantity":1}]}`, 422, "UnknownProduct"},
		{"an empty body", "POST", "/reservations", "application/json", ``, 400, "MalformedRequest"},
		{"a body over 1 MiB", "POST", "/reservations", "application/json", huge, 413, "RequestTooLarge"},
		{"a form instead of JSON", "POST", "/reservations", "application/x-www-form-urlencoded", `orderId=o-x`, 415, "UnsupportedMediaType"},
		{"no content type", "POST", "/reservations", "", `{"orderId":"o-x","items":[{"sku":"SKU-BOOK","quantity":1}]}`, 415, "UnsupportedMediaType"},
		{"a negative price", "PUT", "/products/SKU-NEW", "application/json", `{"name":"New","priceCents":-1,"available":1}`, 422, "ValidationFailed"},
		{"a new product without a price", "PUT", "/products/SKU-NEW", "application/json", `{"name":"New","available":1}`, 422, "ValidationFailed"},
		{"an unknown route", "GET", "/nope", "", ``, 404, "RouteNotFound"},
		{"a wrong method", "DELETE", "/products", "", ``, 405, "MethodNotAllowed"},
		{"an unknown reservation", "GET", "/reservations/o-x", "", ``, 404, "NotFound"},
		{"a NUL byte in a reservation's order ID", "GET", "/reservations/o%00x", "", ``, 404, "NotFound"},
		{"a NUL byte in a SKU", "GET", "/products/S%00x", "", ``, 404, "NotFound"},
		{"a NUL byte in a product name", "PUT", "/products/SKU-NUL", "application/json", `{"name":"a\u0000b","priceCents":1,"available":1}`, 422, "ValidationFailed"},
	}
	dbtest.Each(t, func(t *testing.T, cfg database.Config) {
		s := start(t, cfg)
		before, err := s.client.Products(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range cases {
			t.Run(tc.name+" is answered "+fmt.Sprint(tc.status), func(t *testing.T) {
				resp, data := servicetest.Send(t, tc.method, s.url+tc.path, tc.contentType, tc.body)
				p := servicetest.DecodeProblem(t, resp, data)
				if resp.StatusCode != tc.status || p.Code != tc.code || p.Status != tc.status {
					t.Errorf("answer %d %+v, want %d %s", resp.StatusCode, p, tc.status, tc.code)
				}
			})
		}
		after, err := s.client.Products(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(after) != fmt.Sprint(before) {
			t.Errorf("bad requests changed the catalogue:\nbefore %v\nafter  %v", before, after)
		}
		if _, err := s.client.Reservation(context.Background(), "o-x"); !errors.Is(err, inventory.ErrNotFound) {
			t.Errorf("a bad request left a reservation: %v", err)
		}
	})
}

func TestFaultInjection(t *testing.T) {
	ctx := context.Background()
	s := start(t, dbtest.SQLite(t))
	fc := s.client.Faults()
	items := []inventory.Item{{SKU: "SKU-BOOK", Quantity: 1}}

	t.Run("an error rate of 1 fails every targeted write with 503 and changes nothing", func(t *testing.T) {
		if err := fc.Set(ctx, faults.Config{ErrorRate: 1, Operations: []string{"reserve"}}); err != nil {
			t.Fatal(err)
		}
		_, err := s.client.Reserve(ctx, "f-1", items)
		if !errors.Is(err, httpx.ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
		if _, err := s.client.Reservation(ctx, "f-1"); !errors.Is(err, inventory.ErrNotFound) {
			t.Errorf("the failed reserve left a reservation: %v", err)
		}
		if _, err := s.client.Release(ctx, "f-untargeted"); err != nil {
			t.Errorf("release is not targeted but failed: %v", err)
		}
	})
	t.Run("an error rate of one half fails about half of the writes", func(t *testing.T) {
		if err := fc.Set(ctx, faults.Config{ErrorRate: 0.5}); err != nil {
			t.Fatal(err)
		}
		failed := 0
		for i := range 200 {
			if _, err := s.client.Release(ctx, fmt.Sprintf("half-%d", i)); errors.Is(err, httpx.ErrUnavailable) {
				failed++
			}
		}
		if failed < 60 || failed > 140 { // 200 draws of p=0.5: outside 60..140 has odds below 1e-8
			t.Errorf("%d of 200 failed, want about 100", failed)
		}
	})
	t.Run("down fails reads as well, and the settings can be read back", func(t *testing.T) {
		if err := fc.Set(ctx, faults.Config{Down: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.client.Products(ctx); !errors.Is(err, httpx.ErrUnavailable) {
			t.Errorf("products while down: err = %v, want ErrUnavailable", err)
		}
		got, err := fc.Get(ctx)
		if err != nil || !got.Down {
			t.Errorf("GET /admin/faults = %+v, %v; want down", got, err)
		}
		if err := s.client.Healthy(ctx); err != nil {
			t.Errorf("healthz while down: %v (the process is up)", err)
		}
		if err := fc.Set(ctx, faults.Config{}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.client.Products(ctx); err != nil {
			t.Errorf("products after clearing faults: %v", err)
		}
	})
	t.Run("invalid settings are refused", func(t *testing.T) {
		for _, cfg := range []faults.Config{{ErrorRate: 1.5}, {LatencyMs: -1}, {Operations: []string{"charge"}}} {
			if err := fc.Set(ctx, cfg); !errors.Is(err, validate.ErrInvalid) {
				t.Errorf("set %+v: err = %v, want ErrValidation", cfg, err)
			}
		}
	})
}

func TestFaultLatency(t *testing.T) {
	ctx := context.Background()
	s := start(t, dbtest.SQLite(t))
	if err := s.client.Faults().Set(ctx, faults.Config{LatencyMs: 150, Operations: []string{"release"}}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := s.client.Release(ctx, "slow-1"); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("release took %v, want at least the injected 150ms", d)
	}
}

func TestAnEmptyIDIsNotAnotherRoute(t *testing.T) {
	s := start(t, dbtest.SQLite(t))
	if r, err := s.client.Reservation(context.Background(), ""); !errors.Is(err, httpx.ErrRouteNotFound) {
		t.Errorf("Reservation(\"\") = %+v, %v; want a route-not-found error, not another route's answer", r, err)
	}
}

func TestReplicasStartingTogetherOnAnEmptyDatabase(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, cfg database.Config) {
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 8 {
			wg.Go(func() {
				_, err := inventory.NewStore(context.Background(), servicetest.Open(t, cfg))
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("a replica failed to start: %v", err)
			}
		}
		if p := start(t, cfg).product(t, "SKU-RARE"); p.Available != 1 {
			t.Errorf("SKU-RARE = %+v after 8 starts, want the seed loaded once", p)
		}
	})
}

// TestProductUpdateNeverOverwritesStock is the regression test of "a product update
// overwrites stock": price changes racing reservations and releases must leave every
// reservation counted exactly once. The race needs PostgreSQL's row-level concurrency
// (SQLite runs one write transaction at a time); it runs on both.
func TestProductUpdateNeverOverwritesStock(t *testing.T) {
	ctx := context.Background()
	dbtest.Each(t, func(t *testing.T, cfg database.Config) {
		s := start(t, cfg)
		s.restock(t, "SKU-RACE", 40)
		var wg sync.WaitGroup
		errs := make(chan error, 1000)
		for w := range 4 { // reservers: reserve and release 50 orders each
			wg.Go(func() {
				for i := range 50 {
					id := fmt.Sprintf("race-%d-%d", w, i)
					if _, err := s.client.Reserve(ctx, id, []inventory.Item{{SKU: "SKU-RACE", Quantity: 1 + i%2}}); err != nil {
						errs <- fmt.Errorf("reserve %s: %w", id, err)
					}
					if _, err := s.client.Release(ctx, id); err != nil {
						errs <- fmt.Errorf("release %s: %w", id, err)
					}
				}
			})
		}
		for w := range 2 { // price changes only: they must not write the stock back
			wg.Go(func() {
				for i := range 100 {
					price := int64(1000 + w*100 + i)
					if _, err := s.client.UpsertProduct(ctx, "SKU-RACE", inventory.ProductUpdate{PriceCents: &price}); err != nil {
						errs <- fmt.Errorf("price update: %w", err)
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if p := s.product(t, "SKU-RACE"); p.Available != 40 || p.Reserved != 0 {
			t.Errorf("SKU-RACE = available %d reserved %d after every order was released; want 40 and 0", p.Available, p.Reserved)
		}
	})
}

// TestALostDatabaseIsA503WithRetryAfter takes PostgreSQL away from the service, as a
// restart does: a read rides through a short outage, and a longer one is answered 503
// with Retry-After, reads and writes alike, never 500; the service recovers with the
// database.
func TestALostDatabaseIsA503WithRetryAfter(t *testing.T) {
	cfg, proxy, ok := dbtest.ProxiedPostgres(t)
	if !ok {
		t.Skip("PostgreSQL not configured: set " + dbtest.EnvURL)
	}
	s := start(t, cfg)
	get := func() (*http.Response, []byte) {
		return servicetest.Send(t, http.MethodGet, s.url+"/products/SKU-BOOK", "", "")
	}
	if resp, body := get(); resp.StatusCode != http.StatusOK {
		t.Fatalf("before the outage: %d %s", resp.StatusCode, body)
	}

	t.Run("a read rides through an outage shorter than its budget", func(t *testing.T) {
		proxy.Cut()
		restored := make(chan struct{})
		go func() {
			time.Sleep(500 * time.Millisecond) // the database is away for half a second
			proxy.Restore()
			close(restored)
		}()
		resp, body := get()
		<-restored
		if resp.StatusCode != http.StatusOK {
			t.Errorf("read during a short outage: %d %s, want 200", resp.StatusCode, body)
		}
	})
	t.Run("a longer outage is 503 with Retry-After, for reads and writes", func(t *testing.T) {
		proxy.Cut()
		defer proxy.Restore()
		for _, req := range []struct{ method, path, body string }{
			{http.MethodGet, "/products/SKU-BOOK", ""},
			{http.MethodGet, "/products", ""},
			{http.MethodPost, "/quotes", `{"items":[{"sku":"SKU-BOOK","quantity":1}]}`},
			{http.MethodPost, "/reservations", `{"orderId":"o-outage","items":[{"sku":"SKU-BOOK","quantity":1}]}`},
			{http.MethodPost, "/reservations/o-outage/release", ""},
		} {
			ct := ""
			if req.body != "" {
				ct = "application/json"
			}
			resp, body := servicetest.Send(t, req.method, s.url+req.path, ct, req.body)
			p := servicetest.DecodeProblem(t, resp, body)
			if resp.StatusCode != http.StatusServiceUnavailable || p.Code != "ServiceUnavailable" || resp.Header.Get("Retry-After") != "1" {
				t.Errorf("%s %s with the database away: %d %s Retry-After %q; want 503 ServiceUnavailable with Retry-After",
					req.method, req.path, resp.StatusCode, p.Code, resp.Header.Get("Retry-After"))
			}
		}
	})
	t.Run("the service recovers with the database", func(t *testing.T) {
		if resp, body := get(); resp.StatusCode != http.StatusOK {
			t.Errorf("after the outage: %d %s", resp.StatusCode, body)
		}
		if _, err := s.client.Reserve(context.Background(), "o-after", []inventory.Item{{SKU: "SKU-BOOK", Quantity: 1}}); err != nil {
			t.Errorf("reserve after the outage: %v", err)
		}
	})
}
