package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.temporal.io/api/serviceerror"

	"github.com/ordersaga/ordersaga/app"
	"github.com/ordersaga/ordersaga/saga"
	"github.com/ordersaga/ordersaga/services/inventory"
	"github.com/ordersaga/ordersaga/services/order"
	"github.com/ordersaga/ordersaga/workflows"
)

// fakeSagas stands in for the orders' workflows: each method answers from its function
// field, or with "not found" when it is nil, and records the calls.
type fakeSagas struct {
	mu    sync.Mutex
	calls []string

	start         func(in saga.OrderInput, p workflows.Placement) (string, error)
	startAndAwait func(ctx context.Context, in saga.OrderInput, p workflows.Placement) (saga.OrderState, string, error)
	describe      func(orderID string) (workflows.Execution, error)
	input         func(orderID, runID string) (saga.OrderInput, error)
	query         func(orderID string) (saga.OrderState, error)
	update        func(orderID, name string, d saga.Decision) (saga.OrderState, error)
	watch         func(ctx context.Context, token []byte) ([]byte, bool, error)

	placed workflows.Placement // the placement of the last start
}

var _ app.Sagas = (*fakeSagas)(nil)

var errNotFound = serviceerror.NewNotFound("workflow not found")

func (f *fakeSagas) record(call string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
}

func (f *fakeSagas) called(call string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if c == call {
			n++
		}
	}
	return n
}

func (f *fakeSagas) Start(_ context.Context, in saga.OrderInput, p workflows.Placement) (string, error) {
	f.record("Start")
	f.placed = p
	if f.start == nil {
		return "run-1", nil
	}
	return f.start(in, p)
}

func (f *fakeSagas) StartAndAwait(ctx context.Context, in saga.OrderInput, p workflows.Placement) (saga.OrderState, string, error) {
	f.record("StartAndAwait")
	f.placed = p
	return f.startAndAwait(ctx, in, p)
}

func (f *fakeSagas) Describe(_ context.Context, orderID string) (workflows.Execution, error) {
	f.record("Describe")
	if f.describe == nil {
		return workflows.Execution{}, errNotFound
	}
	return f.describe(orderID)
}

func (f *fakeSagas) Input(_ context.Context, orderID, runID string) (saga.OrderInput, error) {
	f.record("Input")
	if f.input == nil {
		return saga.OrderInput{}, errNotFound
	}
	return f.input(orderID, runID)
}

func (f *fakeSagas) Query(_ context.Context, orderID string) (saga.OrderState, error) {
	f.record("Query")
	if f.query == nil {
		return saga.OrderState{}, errNotFound
	}
	return f.query(orderID)
}

func (f *fakeSagas) Update(_ context.Context, orderID, name string, d saga.Decision) (saga.OrderState, error) {
	f.record("Update " + name)
	if f.update == nil {
		return saga.OrderState{}, errNotFound
	}
	return f.update(orderID, name, d)
}

func (f *fakeSagas) Watch(ctx context.Context, _, _ string, token []byte) ([]byte, bool, error) {
	f.record("Watch")
	if f.watch == nil {
		<-ctx.Done()
		return nil, false, ctx.Err()
	}
	return f.watch(ctx, token)
}

// fakeOrders is the read model: a map of orders, or an error for every call.
type fakeOrders struct {
	mu     sync.Mutex
	orders map[string]order.Order
	err    error
	reads  int
}

var _ app.Orders = (*fakeOrders)(nil)

func (f *fakeOrders) Get(_ context.Context, orderID string) (order.Order, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	if f.err != nil {
		return order.Order{}, f.err
	}
	o, ok := f.orders[orderID]
	if !ok {
		return order.Order{}, fmt.Errorf("order %s: %w", orderID, order.ErrNotFound)
	}
	return o, nil
}

func (f *fakeOrders) List(_ context.Context, q order.ListQuery) (order.Page, error) {
	if f.err != nil {
		return order.Page{}, f.err
	}
	var p order.Page
	for _, o := range f.orders {
		if q.CustomerID == "" || o.CustomerID == q.CustomerID {
			p.Orders = append(p.Orders, o)
		}
	}
	return p, nil
}

func (f *fakeOrders) set(o order.Order) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.orders == nil {
		f.orders = map[string]order.Order{}
	}
	f.orders[o.OrderID] = o
}

// fakeCatalog prices every SKU at 1500 cents, but SKU-NOPE, which is unknown.
type fakeCatalog struct{}

var _ app.Catalog = fakeCatalog{}

func (fakeCatalog) Quote(_ context.Context, items []inventory.Item) (inventory.Quote, error) {
	q := inventory.Quote{Currency: "USD"}
	for _, it := range items {
		if it.SKU == "SKU-NOPE" {
			return inventory.Quote{}, fmt.Errorf("%w: %s", inventory.ErrUnknownProduct, it.SKU)
		}
		q.Items = append(q.Items, inventory.QuotedItem{SKU: it.SKU, Quantity: it.Quantity, UnitPriceCents: 1500})
		q.TotalCents += int64(it.Quantity) * 1500
	}
	return q, nil
}

// stored is an order as the read model holds it, with the saga's view in state.
func stored(orderID string, status order.Status, state *saga.OrderState) order.Order {
	o := order.Order{OrderID: orderID, CustomerID: "cust-1", Status: status, TotalCents: 3000, Currency: "USD",
		Items:         []order.Item{{SKU: "SKU-BOOK", Quantity: 2, UnitPriceCents: 1500}},
		PaymentMethod: "pm_card_visa", ShippingAddress: order.Address(address),
		CreatedAt: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
	if state != nil {
		b, err := json.Marshal(state)
		if err != nil {
			panic(err)
		}
		o.State = b
	}
	return o
}

var address = saga.Address{Name: "Ada", Line1: "1 Main St", City: "Springfield", PostalCode: "12345", Country: "US"}

// request is a valid order for 2 books.
func request() app.PlaceRequest {
	return app.PlaceRequest{CustomerID: "cust-1", Items: []app.ItemRequest{{SKU: "SKU-BOOK", Quantity: 2}},
		PaymentMethod: "pm_card_visa", ShippingAddress: address}
}

var errDown = errors.New("connection refused")
