package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga/internal/telemetry"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ordersaga/ordersaga/app"
	"github.com/ordersaga/ordersaga/internal/httpx"
	"github.com/ordersaga/ordersaga/internal/problem"
	"github.com/ordersaga/ordersaga/internal/validate"
	"github.com/ordersaga/ordersaga/saga"
	"github.com/ordersaga/ordersaga/services/inventory"
	"github.com/ordersaga/ordersaga/services/order"
)

// The tests below hold the handlers to what they are: bind, call one use case, render.
// A fake stands in for the use cases; it records what each handler asked for and answers
// what the test says.

type call struct {
	op      string
	orderID string
	key     string
	wait    time.Duration
	req     app.PlaceRequest
	query   order.ListQuery
	action  app.Action
	d       app.Decision
}

type fakeOrders struct {
	calls  []call
	view   app.OrderView
	placed app.Placed
	list   app.OrderList
	err    error
}

var _ Orders = (*fakeOrders)(nil)

func (f *fakeOrders) answer(c call) (app.OrderView, error) {
	f.calls = append(f.calls, c)
	return f.view, f.err
}

func (f *fakeOrders) Place(_ context.Context, req app.PlaceRequest, key string, wait time.Duration) (app.Placed, error) {
	f.calls = append(f.calls, call{op: "Place", req: req, key: key, wait: wait})
	return f.placed, f.err
}

func (f *fakeOrders) Get(_ context.Context, id string) (app.OrderView, error) {
	return f.answer(call{op: "Get", orderID: id})
}

func (f *fakeOrders) GetLive(_ context.Context, id string) (app.OrderView, error) {
	return f.answer(call{op: "GetLive", orderID: id})
}

func (f *fakeOrders) Await(_ context.Context, id string, d time.Duration) (app.OrderView, error) {
	return f.answer(call{op: "Await", orderID: id, wait: d})
}

func (f *fakeOrders) List(_ context.Context, q order.ListQuery) (app.OrderList, error) {
	f.calls = append(f.calls, call{op: "List", query: q})
	return f.list, f.err
}

func (f *fakeOrders) Cancel(_ context.Context, id string, d app.Decision) (app.OrderView, error) {
	return f.answer(call{op: "Cancel", orderID: id, d: d})
}

func (f *fakeOrders) Decide(_ context.Context, id string, a app.Action, d app.Decision) (app.OrderView, error) {
	return f.answer(call{op: "Decide", orderID: id, action: a, d: d})
}

type fakeCatalog struct {
	products []inventory.Product
	upserted inventory.ProductUpdate
	err      error
}

func (f *fakeCatalog) Products(context.Context) ([]inventory.Product, error) {
	return f.products, f.err
}

func (f *fakeCatalog) UpsertProduct(_ context.Context, sku string, u inventory.ProductUpdate) (inventory.Product, error) {
	f.upserted = u
	return inventory.Product{SKU: sku}, f.err
}

var view = app.OrderView{OrderState: saga.OrderState{OrderID: "o-1", Status: saga.StatusCompleted}, Links: app.Links{Self: "/v1/orders/o-1"}}

// serve sends one request to a new API over the fakes and returns the answer.
func serve(t *testing.T, orders *fakeOrders, catalog *fakeCatalog, method, target, body string, headers ...string) (*http.Response, []byte) {
	t.Helper()
	h := New(Config{OperatorTokens: []string{"op"}}, Deps{Orders: orders, Catalog: catalog, Metrics: prometheus.NewRegistry()},
		slog.New(slog.DiscardHandler))
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	data, _ := io.ReadAll(rec.Result().Body)
	return rec.Result(), data
}

func problemOf(t *testing.T, data []byte) problem.Problem {
	t.Helper()
	var p problem.Problem
	if err := json.Unmarshal(data, &p); err != nil {
		t.Fatalf("not a problem: %s", data)
	}
	return p
}

const orderBody = `{"customerId":"cust-1","items":[{"sku":"SKU-BOOK","quantity":2}],"paymentMethod":"pm_card_visa",` +
	`"shippingAddress":{"name":"A","line1":"B","city":"C","postalCode":"1","country":"US"}}`

func TestPlaceOrderHandler(t *testing.T) {
	t.Run("a new order is 202 with its Location, the body, key and wait passed on", func(t *testing.T) {
		orders := &fakeOrders{placed: app.Placed{Order: view, Created: true}}
		resp, data := serve(t, orders, nil, http.MethodPost, "/v1/orders?wait=2.5", orderBody, "Idempotency-Key", "k-1")
		if resp.StatusCode != http.StatusAccepted || resp.Header.Get("Location") != "/v1/orders/o-1" {
			t.Fatalf("answer %d %v %s", resp.StatusCode, resp.Header, data)
		}
		c := orders.calls[0]
		if c.key != "k-1" || c.wait != 2500*time.Millisecond || c.req.Items[0].SKU != "SKU-BOOK" || c.req.ShippingAddress.Country != "US" {
			t.Errorf("use case called with %+v", c)
		}
		var got app.OrderView
		if json.Unmarshal(data, &got) != nil || got.OrderID != "o-1" {
			t.Errorf("body %s", data)
		}
	})
	t.Run("a replay is 200", func(t *testing.T) {
		resp, _ := serve(t, &fakeOrders{placed: app.Placed{Order: view}}, nil, http.MethodPost, "/v1/orders?wait=10s", orderBody)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("status %d", resp.StatusCode)
		}
	})
	cases := []struct {
		name, target, body, contentType string
		err                             error
		status                          int
		code                            string
	}{
		{"malformed JSON", "/v1/orders", `{"customerId":`, "application/json", nil, 400, "MalformedRequest"},
		{"an unknown field", "/v1/orders", `{"customer":"x"}`, "application/json", nil, 400, "MalformedRequest"},
		{"a form body", "/v1/orders", "a=b", "application/x-www-form-urlencoded", nil, 415, "UnsupportedMediaType"},
		{"a wait that is no duration", "/v1/orders?wait=soon", orderBody, "application/json", nil, 422, "ValidationFailed"},
		{"a validation error of the use case", "/v1/orders", orderBody, "application/json", validate.Invalid("items", "must not be empty"), 422, "ValidationFailed"},
		{"a reused key", "/v1/orders", orderBody, "application/json", fmt.Errorf("%w: x", app.ErrKeyReused), 422, "IdempotencyKeyReused"},
		{"an existing order", "/v1/orders", orderBody, "application/json", fmt.Errorf("%w: x", app.ErrOrderExists), 409, "OrderExists"},
		{"an unknown product", "/v1/orders", orderBody, "application/json", fmt.Errorf("%w: SKU-X", inventory.ErrUnknownProduct), 422, "UnknownProduct"},
		{"Temporal away", "/v1/orders", orderBody, "application/json", fmt.Errorf("%w: down", httpx.ErrUnavailable), 503, "ServiceUnavailable"},
		{"an unexpected failure", "/v1/orders", orderBody, "application/json", errors.New("boom"), 500, "Internal"},
	}
	for _, tc := range cases {
		t.Run(tc.name+" is a problem", func(t *testing.T) {
			h := New(Config{}, Deps{Orders: &fakeOrders{err: tc.err}}, slog.New(slog.DiscardHandler))
			req := httptest.NewRequest(http.MethodPost, tc.target, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", tc.contentType)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			p := problemOf(t, rec.Body.Bytes())
			if rec.Code != tc.status || p.Code != tc.code || rec.Header().Get("Content-Type") != problem.ContentType {
				t.Errorf("answer %d %s %s, want %d %s", rec.Code, p.Code, rec.Header().Get("Content-Type"), tc.status, tc.code)
			}
		})
	}
}

func TestGetOrderHandler(t *testing.T) {
	cases := []struct {
		target string
		op     string
		wait   time.Duration
	}{
		{"/v1/orders/o-1", "Get", 0},
		{"/v1/orders/o-1?live=true", "GetLive", 0},
		{"/v1/orders/o-1?live=false", "Get", 0},
		{"/v1/orders/o-1?wait=3s", "Await", 3 * time.Second},
		{"/v1/orders/o-1?wait=3s&live=true", "Await", 3 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.target+" reads with "+tc.op, func(t *testing.T) {
			orders := &fakeOrders{view: view}
			resp, data := serve(t, orders, nil, http.MethodGet, tc.target, "")
			if resp.StatusCode != http.StatusOK || len(orders.calls) != 1 || orders.calls[0].op != tc.op ||
				orders.calls[0].wait != tc.wait || orders.calls[0].orderID != "o-1" {
				t.Errorf("answer %d %s, calls %+v", resp.StatusCode, data, orders.calls)
			}
		})
	}
	for _, target := range []string{"/v1/orders/o-1?live=maybe", "/v1/orders/o-1?wait=x"} {
		t.Run(target+" is 422", func(t *testing.T) {
			orders := &fakeOrders{}
			resp, data := serve(t, orders, nil, http.MethodGet, target, "")
			if resp.StatusCode != http.StatusUnprocessableEntity || problemOf(t, data).Code != "ValidationFailed" || len(orders.calls) != 0 {
				t.Errorf("answer %d %s", resp.StatusCode, data)
			}
		})
	}
	t.Run("an unknown order is 404", func(t *testing.T) {
		resp, data := serve(t, &fakeOrders{err: fmt.Errorf("%w: o-1", app.ErrOrderNotFound)}, nil, http.MethodGet, "/v1/orders/o-1", "")
		if resp.StatusCode != http.StatusNotFound || problemOf(t, data).Code != "OrderNotFound" {
			t.Errorf("answer %d %s", resp.StatusCode, data)
		}
	})
}

func TestListOrdersHandler(t *testing.T) {
	orders := &fakeOrders{list: app.OrderList{Orders: []app.OrderView{view}, NextCursor: "c2"}}
	resp, data := serve(t, orders, nil, http.MethodGet, "/v1/orders?customerId=cust-1&status=completed&limit=5&cursor=c1", "")
	q := orders.calls[0].query
	if resp.StatusCode != http.StatusOK || q.CustomerID != "cust-1" || q.Status != order.Completed || q.Limit != 5 || q.Cursor != "c1" {
		t.Errorf("answer %d %s, query %+v", resp.StatusCode, data, q)
	}
	for _, limit := range []string{"0", "101", "x"} {
		orders := &fakeOrders{}
		resp, _ := serve(t, orders, nil, http.MethodGet, "/v1/orders?limit="+limit, "")
		if resp.StatusCode != http.StatusUnprocessableEntity || len(orders.calls) != 0 {
			t.Errorf("limit=%s: %d", limit, resp.StatusCode)
		}
	}
}

func TestCancelAndDecideHandlers(t *testing.T) {
	t.Run("a cancel is 202 with the note passed on; the body may be omitted", func(t *testing.T) {
		orders := &fakeOrders{view: view}
		resp, _ := serve(t, orders, nil, http.MethodPost, "/v1/orders/o-1/cancel", `{"note":"changed my mind"}`)
		if resp.StatusCode != http.StatusAccepted || orders.calls[0].d.Note != "changed my mind" || orders.calls[0].orderID != "o-1" {
			t.Errorf("answer %d, calls %+v", resp.StatusCode, orders.calls)
		}
		orders = &fakeOrders{view: view}
		if resp, _ := serve(t, orders, nil, http.MethodPost, "/v1/orders/o-1/cancel", ""); resp.StatusCode != http.StatusAccepted {
			t.Errorf("cancel without a body: %d", resp.StatusCode)
		}
	})
	t.Run("a cancel past the point of no return is 409", func(t *testing.T) {
		resp, data := serve(t, &fakeOrders{err: fmt.Errorf("%w: confirming", app.ErrInvalidState)}, nil, http.MethodPost, "/v1/orders/o-1/cancel", "")
		if resp.StatusCode != http.StatusConflict || problemOf(t, data).Code != "InvalidOrderState" {
			t.Errorf("answer %d %s", resp.StatusCode, data)
		}
	})
	for path, action := range map[string]app.Action{"approve": app.Approve, "reject": app.Reject,
		"retry-compensations": app.RetryCompensations, "resolve-manually": app.ResolveManually} {
		t.Run(path+" with a token sends "+string(action), func(t *testing.T) {
			orders := &fakeOrders{view: view}
			resp, _ := serve(t, orders, nil, http.MethodPost, "/v1/orders/o-1/"+path, `{"by":"alice","note":"ok"}`, "Authorization", "Bearer op")
			if resp.StatusCode != http.StatusOK || orders.calls[0].action != action || orders.calls[0].d.By != "alice" {
				t.Errorf("answer %d, calls %+v", resp.StatusCode, orders.calls)
			}
		})
	}
	t.Run("an operator action without a token reaches nothing", func(t *testing.T) {
		orders := &fakeOrders{}
		resp, _ := serve(t, orders, nil, http.MethodPost, "/v1/orders/o-1/approve", "")
		if resp.StatusCode != http.StatusUnauthorized || len(orders.calls) != 0 || resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("answer %d, calls %+v", resp.StatusCode, orders.calls)
		}
	})
	t.Run("a malformed decision is 400", func(t *testing.T) {
		for _, target := range []string{"/v1/orders/o-1/cancel", "/v1/orders/o-1/approve"} {
			resp, _ := serve(t, &fakeOrders{}, nil, http.MethodPost, target, `{"by":`, "Authorization", "Bearer op")
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("%s: %d", target, resp.StatusCode)
			}
		}
	})
}

func TestProductHandlers(t *testing.T) {
	catalog := &fakeCatalog{products: []inventory.Product{{SKU: "SKU-BOOK", Available: 3}}}
	resp, data := serve(t, &fakeOrders{}, catalog, http.MethodGet, "/v1/products", "")
	var list inventory.ProductList
	if resp.StatusCode != http.StatusOK || json.Unmarshal(data, &list) != nil || list.Products[0].SKU != "SKU-BOOK" {
		t.Errorf("list %d %s", resp.StatusCode, data)
	}
	resp, _ = serve(t, &fakeOrders{}, catalog, http.MethodPut, "/v1/products/SKU-NEW", `{"available":5}`, "Authorization", "Bearer op")
	if resp.StatusCode != http.StatusOK || catalog.upserted.Available == nil || *catalog.upserted.Available != 5 {
		t.Errorf("upsert %d, %+v", resp.StatusCode, catalog.upserted)
	}
	resp, _ = serve(t, &fakeOrders{}, catalog, http.MethodPut, "/v1/products/SKU-NEW", `[]`, "Authorization", "Bearer op")
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("upsert of a bad body: %d", resp.StatusCode)
	}
	catalog.err = fmt.Errorf("%w: inventory down", httpx.ErrUnavailable)
	if resp, _ := serve(t, &fakeOrders{}, catalog, http.MethodGet, "/v1/products", ""); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("products with the inventory away: %d", resp.StatusCode)
	}
}

func TestReadyz(t *testing.T) {
	check := func(err error) func(context.Context) error { return func(context.Context) error { return err } }
	for _, tc := range []struct {
		name   string
		deps   []Dependency
		status int
	}{
		{"every dependency answering is ready", []Dependency{{"temporal", check(nil)}, {"order", check(nil)}}, http.StatusOK},
		{"one dependency away is unavailable", []Dependency{{"temporal", check(nil)}, {"order", check(errors.New("refused"))}}, http.StatusServiceUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := New(Config{}, Deps{Readiness: tc.deps}, slog.New(slog.DiscardHandler))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
			var r Readiness
			if rec.Code != tc.status || json.Unmarshal(rec.Body.Bytes(), &r) != nil || len(r.Checks) != len(tc.deps) {
				t.Errorf("answer %d %s", rec.Code, rec.Body)
			}
		})
	}
}

func TestMetricsCountRequestsAndOrders(t *testing.T) {
	tel, err := telemetry.New(context.Background(), "api", telemetry.Config{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	h := New(Config{}, Deps{Orders: &fakeOrders{placed: app.Placed{Order: view, Created: true}},
		Metrics: tel.Registry, Middleware: tel.Middleware()}, slog.New(slog.DiscardHandler))
	req := httptest.NewRequest(http.MethodPost, "/v1/orders", strings.NewReader(orderBody))
	req.Header.Set("Content-Type", "application/json")
	h.ServeHTTP(httptest.NewRecorder(), req)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for _, want := range []string{`ordersaga_orders_placed_total{result="started"} 1`,
		`ordersaga_http_requests_total{method="POST",route="/v1/orders",status="202"} 1`} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestClientReadsAnOrder(t *testing.T) {
	orders := &fakeOrders{view: view}
	srv := httptest.NewServer(New(Config{}, Deps{Orders: orders}, slog.New(slog.DiscardHandler)))
	defer srv.Close()
	c := NewClient(srv.URL, nil)
	if v, err := c.Order(context.Background(), "o-1"); err != nil || v.OrderID != "o-1" {
		t.Errorf("order = %+v, %v", v, err)
	}
	orders.err = fmt.Errorf("%w: o-2", app.ErrOrderNotFound)
	if _, err := c.Order(context.Background(), "o-2"); !errors.Is(err, app.ErrOrderNotFound) {
		t.Errorf("err = %v, want ErrOrderNotFound", err)
	}
}
