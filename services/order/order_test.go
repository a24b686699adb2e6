package order_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/ordersaga/ordersaga/internal/database"
	"github.com/ordersaga/ordersaga/internal/database/dbtest"
	"github.com/ordersaga/ordersaga/internal/faults"
	"github.com/ordersaga/ordersaga/internal/httpx"
	"github.com/ordersaga/ordersaga/internal/servicetest"
	"github.com/ordersaga/ordersaga/internal/validate"
	"github.com/ordersaga/ordersaga/services/order"
)

// service is an order service on a real database, served over real HTTP.
type service struct {
	url    string
	client *order.Client
}

func start(t *testing.T, cfg database.Config) service {
	t.Helper()
	return startAt(t, cfg, nil)
}

// startAt is start with the store's clock frozen at now (when not nil), to create orders
// that tie on their creation time.
func startAt(t *testing.T, cfg database.Config, now func() time.Time) service {
	t.Helper()
	db := servicetest.Open(t, cfg)
	if now != nil {
		db = db.Session(&gorm.Session{NowFunc: now})
	}
	url := servicetest.Serve(t, db, order.Operations, order.New)
	return service{url: url, client: order.NewClient(url, nil)}
}

// newOrder is a valid create request: 2 books and a mug for cust-1, 3800¢.
func newOrder(id string) order.CreateRequest {
	return order.CreateRequest{
		OrderID:    id,
		CustomerID: "cust-1",
		Items: []order.Item{
			{SKU: "SKU-BOOK", Quantity: 2, UnitPriceCents: 1500},
			{SKU: "SKU-MUG", Quantity: 1, UnitPriceCents: 800},
		},
		TotalCents:    3800,
		Currency:      "USD",
		PaymentMethod: "pm_card_visa",
		ShippingAddress: order.Address{
			Name: "Ada Lovelace", Line1: "1 Main St", City: "Springfield", PostalCode: "12345", Country: "US",
		},
	}
}

func (s service) create(t *testing.T, req order.CreateRequest) order.Order {
	t.Helper()
	o, err := s.client.Create(context.Background(), req)
	if err != nil {
		t.Fatalf("create %s: %v", req.OrderID, err)
	}
	return o
}

func (s service) get(t *testing.T, id string) order.Order {
	t.Helper()
	o, err := s.client.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("get %s: %v", id, err)
	}
	return o
}

// all returns every order, following the cursor (for at most 100 pages, so that a cursor
// that never ends fails the test instead of hanging it).
func (s service) all(t *testing.T, q order.ListQuery) []order.Order {
	t.Helper()
	var out []order.Order
	for range 100 {
		page, err := s.client.List(context.Background(), q)
		if err != nil {
			t.Fatalf("list %+v: %v", q, err)
		}
		out = append(out, page.Orders...)
		if page.NextCursor == "" {
			return out
		}
		q.Cursor = page.NextCursor
	}
	t.Fatalf("list %+v: still a next cursor after 100 pages", q)
	return nil
}

// send makes one raw request and returns the status and body.
func send(method, url, contentType, body string) (int, []byte, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, err
}

// postCreate sends a create over raw HTTP, to see 201 versus 200.
func (s service) postCreate(req order.CreateRequest) (int, order.Order, error) {
	body, _ := json.Marshal(req)
	status, data, err := send("POST", s.url+"/orders", "application/json", string(body))
	if err != nil {
		return 0, order.Order{}, err
	}
	var o order.Order
	if status < 300 {
		err = json.Unmarshal(data, &o)
	}
	return status, o, err
}

func ids(os []order.Order) []string {
	out := make([]string, len(os))
	for i, o := range os {
		out[i] = o.OrderID
	}
	return out
}

func TestStatus(t *testing.T) {
	cases := []struct {
		s                               order.Status
		valid, intermediate, isTerminal bool
	}{
		{order.Pending, true, false, false},
		{order.Reserved, true, true, false},
		{order.AwaitingApproval, true, true, false},
		{order.Paid, true, true, false},
		{order.ShippingScheduled, true, true, false},
		{order.Compensating, true, true, false},
		{order.NeedsAttention, true, true, false},
		{order.Completed, true, false, true},
		{order.Rejected, true, false, true},
		{order.Cancelled, true, false, true},
		{"SHIPPED", false, false, false},
		{"", false, false, false},
		{"pending", false, false, false},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%q is valid %v, intermediate %v, terminal %v", tc.s, tc.valid, tc.intermediate, tc.isTerminal), func(t *testing.T) {
			if tc.s.Valid() != tc.valid || tc.s.Intermediate() != tc.intermediate || tc.s.Terminal() != tc.isTerminal {
				t.Errorf("Valid %v, Intermediate %v, Terminal %v", tc.s.Valid(), tc.s.Intermediate(), tc.s.Terminal())
			}
		})
	}
}

func TestCreate(t *testing.T) {
	ctx := context.Background()
	dbtest.Each(t, func(t *testing.T, cfg database.Config) {
		s := start(t, cfg)
		var first order.Order

		t.Run("creating an order answers 201 with a PENDING order", func(t *testing.T) {
			status, o, err := s.postCreate(newOrder("o-1"))
			if err != nil || status != http.StatusCreated {
				t.Fatalf("create = %d, %v; want 201", status, err)
			}
			want := newOrder("o-1")
			if o.OrderID != "o-1" || o.CustomerID != "cust-1" || o.Status != order.Pending || o.TotalCents != 3800 ||
				o.Currency != "USD" || o.PaymentMethod != "pm_card_visa" || o.ShippingAddress != want.ShippingAddress ||
				!reflect.DeepEqual(o.Items, want.Items) || o.Version != 0 || o.Tombstone || o.CreatedAt.IsZero() {
				t.Fatalf("order = %+v", o)
			}
			first = o
			if got := s.get(t, "o-1"); !reflect.DeepEqual(got, first) {
				t.Errorf("get = %+v, want what create answered %+v", got, first)
			}
		})
		t.Run("creating again with the same body answers 200 with the first order", func(t *testing.T) {
			req := newOrder("o-1")
			slices.Reverse(req.Items) // the same items in another order are the same body
			status, o, err := s.postCreate(req)
			if err != nil || status != http.StatusOK {
				t.Fatalf("replay = %d, %v; want 200", status, err)
			}
			if !reflect.DeepEqual(o, first) {
				t.Errorf("replay = %+v, want the first order %+v", o, first)
			}
			if n := len(s.all(t, order.ListQuery{})); n != 1 {
				t.Errorf("%d orders stored, want 1", n)
			}
		})
		t.Run("the same order ID with another body is a conflict and changes nothing", func(t *testing.T) {
			others := map[string]func(*order.CreateRequest){
				"another customer":       func(r *order.CreateRequest) { r.CustomerID = "cust-2" },
				"another quantity":       func(r *order.CreateRequest) { r.Items[0].Quantity = 3; r.TotalCents = 5300 },
				"another payment method": func(r *order.CreateRequest) { r.PaymentMethod = "pm_card_declined" },
				"another address":        func(r *order.CreateRequest) { r.ShippingAddress.Country = "CA" },
			}
			for name, change := range others {
				req := newOrder("o-1")
				change(&req)
				if _, err := s.client.Create(ctx, req); !errors.Is(err, order.ErrConflict) {
					t.Errorf("%s: err = %v, want ErrConflict", name, err)
				}
			}
			if got := s.get(t, "o-1"); !reflect.DeepEqual(got, first) {
				t.Errorf("after conflicts = %+v, want unchanged %+v", got, first)
			}
		})
		t.Run("a second process on the same database sees the order", func(t *testing.T) {
			again := start(t, cfg)
			if got := again.get(t, "o-1"); !reflect.DeepEqual(got, first) {
				t.Errorf("after restart = %+v, want %+v", got, first)
			}
		})
	})
}

func TestConfirm(t *testing.T) {
	ctx := context.Background()
	dbtest.Each(t, func(t *testing.T, cfg database.Config) {
		s := start(t, cfg)
		s.create(t, newOrder("o-1"))
		var completed order.Order

		t.Run("confirming completes the order", func(t *testing.T) {
			o, err := s.client.Confirm(ctx, "o-1")
			if err != nil {
				t.Fatal(err)
			}
			if o.Status != order.Completed {
				t.Fatalf("status = %s, want COMPLETED", o.Status)
			}
			completed = o
		})
		t.Run("confirming again returns the completed order unchanged", func(t *testing.T) {
			o, err := s.client.Confirm(ctx, "o-1")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(o, completed) {
				t.Errorf("second confirm = %+v, want the first %+v", o, completed)
			}
		})
		t.Run("cancelling a completed order is refused and it stays COMPLETED", func(t *testing.T) {
			for _, st := range []order.Status{order.Cancelled, order.Rejected} {
				_, err := s.client.Cancel(ctx, "o-1", order.CancelRequest{Status: st, Reason: "too late"})
				if !errors.Is(err, order.ErrCompleted) {
					t.Errorf("%s: err = %v, want ErrCompleted", st, err)
				}
			}
			if got := s.get(t, "o-1"); !reflect.DeepEqual(got, completed) {
				t.Errorf("after refused cancels = %+v, want %+v", got, completed)
			}
		})
		t.Run("creating a completed order again returns it", func(t *testing.T) {
			if o := s.create(t, newOrder("o-1")); !reflect.DeepEqual(o, completed) {
				t.Errorf("create replay = %+v, want %+v", o, completed)
			}
		})
		t.Run("confirming an unknown order is not found and creates nothing", func(t *testing.T) {
			if _, err := s.client.Confirm(ctx, "o-nope"); !errors.Is(err, order.ErrNotFound) {
				t.Errorf("err = %v, want ErrNotFound", err)
			}
			if _, err := s.client.Get(ctx, "o-nope"); !errors.Is(err, order.ErrNotFound) {
				t.Errorf("get after confirm of unknown order: err = %v, want ErrNotFound", err)
			}
		})
	})
}

func TestCancel(t *testing.T) {
	ctx := context.Background()
	dbtest.Each(t, func(t *testing.T, cfg database.Config) {
		s := start(t, cfg)
		s.create(t, newOrder("o-1"))
		var cancelled order.Order

		t.Run("cancelling marks the order CANCELLED with its reason", func(t *testing.T) {
			o, err := s.client.Cancel(ctx, "o-1", order.CancelRequest{Status: order.Cancelled, Reason: "customer changed their mind"})
			if err != nil {
				t.Fatal(err)
			}
			if o.Status != order.Cancelled || o.Reason != "customer changed their mind" || o.Tombstone || len(o.Items) != 2 {
				t.Fatalf("order = %+v", o)
			}
			cancelled = o
		})
		t.Run("cancelling again keeps the first outcome and reason", func(t *testing.T) {
			o, err := s.client.Cancel(ctx, "o-1", order.CancelRequest{Status: order.Rejected, Reason: "another reason",
				FailedStep: "ChargePayment", ErrorType: "PaymentDeclined"})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(o, cancelled) {
				t.Errorf("second cancel = %+v, want the first %+v", o, cancelled)
			}
		})
		t.Run("confirming a cancelled order is refused and it stays CANCELLED", func(t *testing.T) {
			if _, err := s.client.Confirm(ctx, "o-1"); !errors.Is(err, order.ErrCompensated) {
				t.Fatalf("err = %v, want ErrCompensated", err)
			}
			if got := s.get(t, "o-1"); !reflect.DeepEqual(got, cancelled) {
				t.Errorf("after refused confirm = %+v, want %+v", got, cancelled)
			}
		})
		t.Run("creating a cancelled order again is refused", func(t *testing.T) {
			if _, err := s.client.Create(ctx, newOrder("o-1")); !errors.Is(err, order.ErrCompensated) {
				t.Fatalf("err = %v, want ErrCompensated", err)
			}
			if got := s.get(t, "o-1"); !reflect.DeepEqual(got, cancelled) {
				t.Errorf("after refused create = %+v, want %+v", got, cancelled)
			}
		})
		t.Run("rejecting records the failed step and the error type", func(t *testing.T) {
			s.create(t, newOrder("o-2"))
			if _, err := s.client.SetStatus(ctx, "o-2", order.StatusUpdate{Status: order.Compensating, Version: 3}); err != nil {
				t.Fatal(err)
			}
			o, err := s.client.Cancel(ctx, "o-2", order.CancelRequest{Status: order.Rejected, Reason: "card declined",
				FailedStep: "ChargePayment", ErrorType: "PaymentDeclined"})
			if err != nil {
				t.Fatal(err)
			}
			if o.Status != order.Rejected || o.Reason != "card declined" || o.FailedStep != "ChargePayment" ||
				o.ErrorType != "PaymentDeclined" || o.Version != 3 {
				t.Errorf("order = %+v", o)
			}
		})
	})
}

func TestNullCompensation(t *testing.T) {
	ctx := context.Background()
	dbtest.Each(t, func(t *testing.T, cfg database.Config) {
		s := start(t, cfg)
		var tomb order.Order

		t.Run("cancelling an order that was never created leaves a tombstone", func(t *testing.T) {
			o, err := s.client.Cancel(ctx, "o-ghost", order.CancelRequest{Status: order.Cancelled, Reason: "workflow cancelled"})
			if err != nil {
				t.Fatal(err)
			}
			if !o.Tombstone || o.Status != order.Cancelled || o.Reason != "workflow cancelled" ||
				o.CustomerID != "" || len(o.Items) != 0 || o.Items == nil || o.TotalCents != 0 {
				t.Fatalf("tombstone = %+v", o)
			}
			tomb = o
		})
		t.Run("a create arriving after the tombstone is refused and no PENDING order appears", func(t *testing.T) {
			status, _, err := s.postCreate(newOrder("o-ghost"))
			if err != nil || status != http.StatusConflict {
				t.Fatalf("late create = %d, %v; want 409", status, err)
			}
			if _, err := s.client.Create(ctx, newOrder("o-ghost")); !errors.Is(err, order.ErrCompensated) {
				t.Fatalf("err = %v, want ErrCompensated", err)
			}
			if got := s.get(t, "o-ghost"); !reflect.DeepEqual(got, tomb) {
				t.Errorf("after late create = %+v, want the tombstone %+v", got, tomb)
			}
			if got := s.all(t, order.ListQuery{Status: order.Pending}); len(got) != 0 {
				t.Errorf("PENDING orders = %v, want none", ids(got))
			}
			if got := s.all(t, order.ListQuery{CustomerID: "cust-1"}); len(got) != 0 {
				t.Errorf("orders of cust-1 = %v, want none", ids(got))
			}
		})
		t.Run("cancelling the tombstone again returns it unchanged", func(t *testing.T) {
			o, err := s.client.Cancel(ctx, "o-ghost", order.CancelRequest{Status: order.Rejected, Reason: "retry"})
			if err != nil || !reflect.DeepEqual(o, tomb) {
				t.Errorf("second cancel = %+v, %v; want the tombstone %+v", o, err, tomb)
			}
		})
		t.Run("confirming the tombstone is refused", func(t *testing.T) {
			if _, err := s.client.Confirm(ctx, "o-ghost"); !errors.Is(err, order.ErrCompensated) {
				t.Errorf("err = %v, want ErrCompensated", err)
			}
		})
		t.Run("a status update does not revive the tombstone", func(t *testing.T) {
			o, err := s.client.SetStatus(ctx, "o-ghost", order.StatusUpdate{Status: order.Reserved, Version: 1})
			o.Version, o.UpdatedAt = tomb.Version, tomb.UpdatedAt // the saga's newer version is recorded
			if err != nil || !reflect.DeepEqual(o, tomb) {
				t.Errorf("set status = %+v, %v; want the tombstone %+v", o, err, tomb)
			}
		})
		t.Run("a rejection that comes first leaves a REJECTED tombstone", func(t *testing.T) {
			o, err := s.client.Cancel(ctx, "o-ghost-2", order.CancelRequest{Status: order.Rejected, Reason: "out of stock",
				FailedStep: "ReserveInventory", ErrorType: "OutOfStock"})
			if err != nil || !o.Tombstone || o.Status != order.Rejected || o.ErrorType != "OutOfStock" {
				t.Fatalf("tombstone = %+v, %v", o, err)
			}
			if _, err := s.client.Create(ctx, newOrder("o-ghost-2")); !errors.Is(err, order.ErrCompensated) {
				t.Errorf("late create: err = %v, want ErrCompensated", err)
			}
		})
	})
}

func TestSetStatus(t *testing.T) {
	ctx := context.Background()
	dbtest.Each(t, func(t *testing.T, cfg database.Config) {
		s := start(t, cfg)
		s.create(t, newOrder("o-1"))
		set := func(t *testing.T, st order.Status, version int64) order.Order {
			t.Helper()
			o, err := s.client.SetStatus(ctx, "o-1", order.StatusUpdate{Status: st, Version: version})
			if err != nil {
				t.Fatalf("set %s v%d: %v", st, version, err)
			}
			return o
		}

		t.Run("a newer version applies", func(t *testing.T) {
			if o := set(t, order.Reserved, 1); o.Status != order.Reserved || o.Version != 1 {
				t.Errorf("after v1 = %s v%d, want RESERVED v1", o.Status, o.Version)
			}
			if o := set(t, order.Paid, 2); o.Status != order.Paid || o.Version != 2 {
				t.Errorf("after v2 = %s v%d, want PAID v2", o.Status, o.Version)
			}
		})
		t.Run("a stale version is ignored without error", func(t *testing.T) {
			before := s.get(t, "o-1")
			if o := set(t, order.AwaitingApproval, 1); !reflect.DeepEqual(o, before) {
				t.Errorf("after stale v1 = %+v, want unchanged %+v", o, before)
			}
		})
		t.Run("a repeated version is ignored without error", func(t *testing.T) {
			before := s.get(t, "o-1")
			if o := set(t, order.Compensating, 2); !reflect.DeepEqual(o, before) {
				t.Errorf("after repeated v2 = %+v, want unchanged %+v", o, before)
			}
		})
		t.Run("a version may skip ahead", func(t *testing.T) {
			if o := set(t, order.ShippingScheduled, 7); o.Status != order.ShippingScheduled || o.Version != 7 {
				t.Errorf("after v7 = %s v%d, want SHIPPING_SCHEDULED v7", o.Status, o.Version)
			}
		})
		t.Run("a terminal order keeps its status but takes the saga's newer view", func(t *testing.T) {
			completed, err := s.client.Confirm(ctx, "o-1")
			if err != nil {
				t.Fatal(err)
			}
			state := json.RawMessage(`{"status":"COMPLETED","steps":[]}`)
			o, err := s.client.SetStatus(ctx, "o-1", order.StatusUpdate{Status: order.NeedsAttention, Version: 100, State: state})
			if err != nil {
				t.Fatal(err)
			}
			if o.Status != order.Completed || o.Reason != completed.Reason || o.Version != 100 || string(o.State) != string(state) {
				t.Errorf("after update of a completed order = %s %q v%d %s, want COMPLETED, the view and v100", o.Status, o.Reason, o.Version, o.State)
			}
			if got := s.get(t, "o-1"); got.Status != order.Completed || string(got.State) != string(state) {
				t.Errorf("stored = %s %s", got.Status, got.State)
			}
		})
		t.Run("an unknown order is not found", func(t *testing.T) {
			_, err := s.client.SetStatus(ctx, "o-nope", order.StatusUpdate{Status: order.Reserved, Version: 1})
			if !errors.Is(err, order.ErrNotFound) {
				t.Errorf("err = %v, want ErrNotFound", err)
			}
		})
		t.Run("the saga's final CANCELLED or REJECTED ends an order that is not yet terminal", func(t *testing.T) {
			s.create(t, newOrder("o-3"))
			set := func(u order.StatusUpdate) order.Order {
				t.Helper()
				o, err := s.client.SetStatus(ctx, "o-3", u)
				if err != nil {
					t.Fatal(err)
				}
				return o
			}
			set(order.StatusUpdate{Status: order.Compensating, Version: 3})
			o := set(order.StatusUpdate{Status: order.Rejected, Version: 4, Reason: "payment declined",
				FailedStep: "ChargePayment", ErrorType: "PaymentDeclined", State: json.RawMessage(`{"status":"REJECTED"}`)})
			if o.Status != order.Rejected || o.Reason != "payment declined" || o.FailedStep != "ChargePayment" || o.ErrorType != "PaymentDeclined" {
				t.Errorf("after the final update = %+v, want REJECTED with its reason", o)
			}
			if o := set(order.StatusUpdate{Status: order.Cancelled, Version: 5, Reason: "later"}); o.Status != order.Rejected || o.Reason != "payment declined" {
				t.Errorf("a second final update changed a terminal order: %s %q", o.Status, o.Reason)
			}
			if _, err := s.client.Create(ctx, newOrder("o-3")); !errors.Is(err, order.ErrCompensated) {
				t.Errorf("create after the final REJECTED: err = %v, want ErrCompensated", err)
			}
		})
		t.Run("COMPLETED through a status update records the view but does not complete the order", func(t *testing.T) {
			s.create(t, newOrder("o-4"))
			o, err := s.client.SetStatus(ctx, "o-4", order.StatusUpdate{Status: order.Completed, Version: 1})
			if err != nil {
				t.Fatal(err)
			}
			if o.Status != order.Pending || o.Version != 1 {
				t.Errorf("after COMPLETED by status update = %s v%d, want PENDING v1 (only Confirm completes)", o.Status, o.Version)
			}
		})
		t.Run("PENDING, versions below 1 and a state that is not an object are invalid", func(t *testing.T) {
			s.create(t, newOrder("o-2"))
			for _, u := range []order.StatusUpdate{
				{Status: order.Pending, Version: 1}, {Status: order.Reserved, Version: 0},
				{Status: order.Reserved, Version: 1, State: json.RawMessage(`[1,2]`)},
				{Status: order.Rejected, Version: 1, Reason: "two\nlines"},
			} {
				if _, err := s.client.SetStatus(ctx, "o-2", u); !errors.Is(err, validate.ErrInvalid) {
					t.Errorf("%+v: err = %v, want ErrValidation", u, err)
				}
			}
			if o := s.get(t, "o-2"); o.Status != order.Pending || o.Version != 0 {
				t.Errorf("o-2 = %s v%d, want PENDING v0", o.Status, o.Version)
			}
		})
	})
}

func TestList(t *testing.T) {
	ctx := context.Background()
	dbtest.Each(t, func(t *testing.T, cfg database.Config) {
		s := start(t, cfg)
		// 25 orders of cust-page, created one after the other: p-25 is the newest.
		var want []string
		for i := 1; i <= 25; i++ {
			req := newOrder(fmt.Sprintf("p-%02d", i))
			req.CustomerID = "cust-page"
			s.create(t, req)
			want = append([]string{req.OrderID}, want...)
		}
		// Three more of other customers, in three statuses.
		s.create(t, newOrder("f-a"))
		s.create(t, newOrder("f-b"))
		if _, err := s.client.Confirm(ctx, "f-b"); err != nil {
			t.Fatal(err)
		}
		c := newOrder("f-c")
		c.CustomerID = "cust-2"
		s.create(t, c)
		if _, err := s.client.Cancel(ctx, "f-c", order.CancelRequest{Status: order.Cancelled}); err != nil {
			t.Fatal(err)
		}

		t.Run("filtering by customer returns only that customer's orders, newest first", func(t *testing.T) {
			if got := ids(s.all(t, order.ListQuery{CustomerID: "cust-1"})); !slices.Equal(got, []string{"f-b", "f-a"}) {
				t.Errorf("cust-1 = %v, want [f-b f-a]", got)
			}
			if got := ids(s.all(t, order.ListQuery{CustomerID: "cust-nobody"})); len(got) != 0 {
				t.Errorf("cust-nobody = %v, want none", got)
			}
		})
		t.Run("filtering by status returns only orders in that status", func(t *testing.T) {
			if got := ids(s.all(t, order.ListQuery{Status: order.Completed})); !slices.Equal(got, []string{"f-b"}) {
				t.Errorf("COMPLETED = %v, want [f-b]", got)
			}
			if got := ids(s.all(t, order.ListQuery{Status: order.Cancelled})); !slices.Equal(got, []string{"f-c"}) {
				t.Errorf("CANCELLED = %v, want [f-c]", got)
			}
			if got := s.all(t, order.ListQuery{Status: order.Pending}); len(got) != 26 {
				t.Errorf("%d PENDING orders, want 26", len(got))
			}
		})
		t.Run("the two filters combine", func(t *testing.T) {
			if got := ids(s.all(t, order.ListQuery{CustomerID: "cust-1", Status: order.Pending})); !slices.Equal(got, []string{"f-a"}) {
				t.Errorf("PENDING of cust-1 = %v, want [f-a]", got)
			}
		})
		t.Run("with no filter every order is listed, newest first", func(t *testing.T) {
			got := ids(s.all(t, order.ListQuery{Limit: 100}))
			if wantAll := append([]string{"f-c", "f-b", "f-a"}, want...); !slices.Equal(got, wantAll) {
				t.Errorf("all = %v, want %v", got, wantAll)
			}
		})
		t.Run("the default page holds 20 orders", func(t *testing.T) {
			page, err := s.client.List(ctx, order.ListQuery{CustomerID: "cust-page"})
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Orders) != order.DefaultLimit || page.NextCursor == "" {
				t.Errorf("first page: %d orders, cursor %q; want 20 and a cursor", len(page.Orders), page.NextCursor)
			}
		})
		t.Run("pages of 10 over 25 orders visit every order exactly once, newest first", func(t *testing.T) {
			var got []string
			var sizes []int
			q := order.ListQuery{CustomerID: "cust-page", Limit: 10}
			for range 10 { // more than enough; a cursor that loops fails below
				page, err := s.client.List(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, ids(page.Orders)...)
				sizes = append(sizes, len(page.Orders))
				if page.NextCursor == "" {
					break
				}
				q.Cursor = page.NextCursor
			}
			if !slices.Equal(got, want) || !slices.Equal(sizes, []int{10, 10, 5}) {
				t.Errorf("pages %v visited %v, want [10 10 5] visiting %v", sizes, got, want)
			}
		})
		t.Run("an order created between two pages does not shift the next page", func(t *testing.T) {
			first, err := s.client.List(ctx, order.ListQuery{CustomerID: "cust-page", Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			late := newOrder("p-26")
			late.CustomerID = "cust-page"
			s.create(t, late)
			second, err := s.client.List(ctx, order.ListQuery{CustomerID: "cust-page", Limit: 10, Cursor: first.NextCursor})
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(second.Orders); !slices.Equal(got, want[10:20]) {
				t.Errorf("second page = %v, want %v", got, want[10:20])
			}
			if got := ids(s.all(t, order.ListQuery{CustomerID: "cust-page", Limit: 1})); len(got) != 26 || got[0] != "p-26" {
				t.Errorf("after the late order: %v, want 26 orders starting with p-26", got)
			}
		})
		t.Run("orders created in the same microsecond are paged by order ID, none repeated or skipped", func(t *testing.T) {
			frozen := time.Date(2030, 1, 2, 3, 4, 5, 6000, time.UTC)
			tied := startAt(t, cfg, func() time.Time { return frozen }) // same database, stopped clock
			var wantTied []string
			for i := 1; i <= 7; i++ {
				req := newOrder(fmt.Sprintf("t-%d", i))
				req.CustomerID = "cust-tie"
				if o := tied.create(t, req); !o.CreatedAt.Equal(frozen) {
					t.Fatalf("created at %v, want the frozen %v", o.CreatedAt, frozen)
				}
				wantTied = append([]string{req.OrderID}, wantTied...)
			}
			if got := ids(s.all(t, order.ListQuery{CustomerID: "cust-tie", Limit: 3})); !slices.Equal(got, wantTied) {
				t.Errorf("pages of 3 visited %v, want %v", got, wantTied)
			}
		})
		t.Run("a garbled cursor is a validation error", func(t *testing.T) {
			for _, cur := range []string{"garbage!!", "bm9wZQ", "MTIzOg", "LTE6cC0wMQ", strings.Repeat("A", 300)} {
				_, err := s.client.List(ctx, order.ListQuery{Cursor: cur})
				if !errors.Is(err, validate.ErrInvalid) {
					t.Errorf("cursor %q: err = %v, want ErrValidation", cur, err)
				}
			}
		})
	})
}

func TestConcurrency(t *testing.T) {
	ctx := context.Background()
	dbtest.Each(t, func(t *testing.T, cfg database.Config) {
		s := start(t, cfg)
		t.Run("50 concurrent creates of the same order all answer it and exactly one creates it", func(t *testing.T) {
			var (
				wg       sync.WaitGroup
				mu       sync.Mutex
				statuses = map[int]int{}
				orders   []order.Order
			)
			for range 50 {
				wg.Go(func() {
					status, o, err := s.postCreate(newOrder("o-same"))
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						t.Errorf("create: %v", err)
						return
					}
					statuses[status]++
					orders = append(orders, o)
				})
			}
			wg.Wait()
			if statuses[http.StatusCreated] != 1 || statuses[http.StatusOK] != 49 {
				t.Errorf("answers %v, want one 201 and 49 200", statuses)
			}
			for _, o := range orders {
				if !reflect.DeepEqual(o, orders[0]) {
					t.Errorf("answer %+v differs from %+v", o, orders[0])
				}
			}
			if got := s.all(t, order.ListQuery{}); len(got) != 1 || !reflect.DeepEqual(got[0], orders[0]) {
				t.Errorf("stored %v, want exactly o-same", ids(got))
			}
		})
		t.Run("50 races between cancel and confirm each end in one outcome and the loser gets the matching error", func(t *testing.T) {
			for i := range 50 {
				s.create(t, newOrder(fmt.Sprintf("race-%02d", i)))
			}
			cancelErr := make([]error, 50)
			confirmErr := make([]error, 50)
			var wg sync.WaitGroup
			for i := range 50 {
				id := fmt.Sprintf("race-%02d", i)
				wg.Go(func() {
					_, cancelErr[i] = s.client.Cancel(ctx, id, order.CancelRequest{Status: order.Cancelled, Reason: "race"})
				})
				wg.Go(func() { _, confirmErr[i] = s.client.Confirm(ctx, id) })
			}
			wg.Wait()
			completed, cancelled := 0, 0
			for i := range 50 {
				id := fmt.Sprintf("race-%02d", i)
				o := s.get(t, id)
				switch o.Status {
				case order.Completed:
					completed++
					if confirmErr[i] != nil || !errors.Is(cancelErr[i], order.ErrCompleted) {
						t.Errorf("%s COMPLETED: confirm err %v, cancel err %v; want nil and ErrCompleted", id, confirmErr[i], cancelErr[i])
					}
					if o.Reason != "" {
						t.Errorf("%s COMPLETED with reason %q", id, o.Reason)
					}
				case order.Cancelled:
					cancelled++
					if cancelErr[i] != nil || !errors.Is(confirmErr[i], order.ErrCompensated) {
						t.Errorf("%s CANCELLED: cancel err %v, confirm err %v; want nil and ErrCompensated", id, cancelErr[i], confirmErr[i])
					}
				default:
					t.Errorf("%s ended %s, want COMPLETED or CANCELLED", id, o.Status)
				}
			}
			t.Logf("%d completed, %d cancelled", completed, cancelled)
		})
		t.Run("50 concurrent cancels of an order that was never created leave one tombstone and refuse the late create", func(t *testing.T) {
			var wg sync.WaitGroup
			results := make([]order.Order, 50)
			errs := make([]error, 50)
			for i := range 50 {
				wg.Go(func() {
					results[i], errs[i] = s.client.Cancel(ctx, "o-ghost", order.CancelRequest{Status: order.Cancelled, Reason: "race"})
				})
			}
			wg.Go(func() {
				if _, err := s.client.Create(ctx, newOrder("o-ghost")); err != nil && !errors.Is(err, order.ErrCompensated) {
					t.Errorf("create racing the cancels: %v", err)
				}
			})
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("cancel #%d: %v", i, err)
				}
			}
			final := s.get(t, "o-ghost")
			if final.Status != order.Cancelled {
				t.Fatalf("o-ghost = %+v, want CANCELLED", final)
			}
			for i, o := range results {
				if !reflect.DeepEqual(o, final) {
					t.Errorf("cancel #%d answered %+v, want the stored order %+v", i, o, final)
				}
			}
		})
	})
}

func TestBadInput(t *testing.T) {
	body := func(change func(*order.CreateRequest)) string {
		req := newOrder("o-x")
		change(&req)
		b, _ := json.Marshal(req)
		return string(b)
	}
	valid := body(func(*order.CreateRequest) {})
	huge := strings.TrimSuffix(valid, "}") + `,"pad":"` + strings.Repeat("x", httpx.MaxBodyBytes) + `"}`
	tooMany := body(func(r *order.CreateRequest) {
		r.Items = nil
		for i := range 101 {
			r.Items = append(r.Items, order.Item{SKU: fmt.Sprintf("SKU-%d", i), Quantity: 1, UnitPriceCents: 1})
		}
		r.TotalCents = 101
	})
	const js, none = "application/json", ""
	cases := []struct {
		name, method, path, contentType, body string
		status                                int
		code                                  string
	}{
		{"malformed JSON", "POST", "/orders", js, `{"orderId":"o-x",`, 400, "MalformedRequest"},
		{"a JSON array instead of an object", "POST", "/orders", js, `[1,2]`, 400, "MalformedRequest"},
		{"two JSON values", "POST", "/orders", js, valid + ` {}`, 400, "MalformedRequest"},
		{"an unknown field", "POST", "/orders", js, strings.TrimSuffix(valid, "}") + `,"qty":1}`, 400, "MalformedRequest"},
		{"a string quantity", "POST", "/orders", js, strings.Replace(valid, `"quantity":2`, `"quantity":"2"`, 1), 400, "MalformedRequest"},
		{"an empty body", "POST", "/orders", js, ``, 400, "MalformedRequest"},
		{"zero quantity", "POST", "/orders", js, body(func(r *order.CreateRequest) { r.Items[1].Quantity = 0; r.TotalCents = 3000 }), 422, "ValidationFailed"},
		{"negative quantity", "POST", "/orders", js, body(func(r *order.CreateRequest) { r.Items[0].Quantity = -2; r.TotalCents = -2200 }), 422, "ValidationFailed"},
		{"a quantity over 10000", "POST", "/orders", js, body(func(r *order.CreateRequest) { r.Items[1].Quantity = 10001; r.TotalCents = 3000 + 10001*800 }), 422, "ValidationFailed"},
		{"a negative price", "POST", "/orders", js, body(func(r *order.CreateRequest) { r.Items[1].UnitPriceCents = -800; r.TotalCents = 2200 }), 422, "ValidationFailed"},
		{"a wrong total", "POST", "/orders", js, body(func(r *order.CreateRequest) { r.TotalCents = 3799 }), 422, "ValidationFailed"},
		{"a huge price", "POST", "/orders", js, body(func(r *order.CreateRequest) { r.Items[0].UnitPriceCents = 1 << 62; r.TotalCents = 800 }), 422, "ValidationFailed"},
		{"only an order ID", "POST", "/orders", js, `{"orderId":"o-x"}`, 422, "ValidationFailed"},
		{"a missing order ID", "POST", "/orders", js, body(func(r *order.CreateRequest) { r.OrderID = "" }), 422, "ValidationFailed"},
		{"a missing customer", "POST", "/orders", js, body(func(r *order.CreateRequest) { r.CustomerID = "" }), 422, "ValidationFailed"},
		{"no items", "POST", "/orders", js, body(func(r *order.CreateRequest) { r.Items = nil; r.TotalCents = 0 }), 422, "ValidationFailed"},
		{"more than 100 items", "POST", "/orders", js, tooMany, 422, "ValidationFailed"},
		{"the same SKU twice", "POST", "/orders", js, body(func(r *order.CreateRequest) { r.Items[1].SKU = "SKU-BOOK" }), 422, "ValidationFailed"},
		{"an invalid SKU", "POST", "/orders", js, body(func(r *order.CreateRequest) { r.Items[1].SKU = "SKU MUG" }), 422, "ValidationFailed"},
		{"another currency", "POST", "/orders", js, body(func(r *order.CreateRequest) { r.Currency = "EUR" }), 422, "ValidationFailed"},
		{"a missing currency", "POST", "/orders", js, body(func(r *order.CreateRequest) { r.Currency = "" }), 422, "ValidationFailed"},
		{"a missing payment method", "POST", "/orders", js, body(func(r *order.CreateRequest) { r.PaymentMethod = "" }), 422, "ValidationFailed"},
		{"a payment method over 200 characters", "POST", "/orders", js, body(func(r *order.CreateRequest) { r.PaymentMethod = strings.Repeat("p", 201) }), 422, "ValidationFailed"},
		{"a missing city", "POST", "/orders", js, body(func(r *order.CreateRequest) { r.ShippingAddress.City = "" }), 422, "ValidationFailed"},
		{"a missing country", "POST", "/orders", js, body(func(r *order.CreateRequest) { r.ShippingAddress.Country = "" }), 422, "ValidationFailed"},
		{"a lowercase country", "POST", "/orders", js, body(func(r *order.CreateRequest) { r.ShippingAddress.Country = "us" }), 422, "ValidationFailed"},
		{"a NUL byte in the address", "POST", "/orders", js, body(func(r *order.CreateRequest) { r.ShippingAddress.Line1 = "1 Main\x00St" }), 422, "ValidationFailed"},
		{"a body over 1 MiB", "POST", "/orders", js, huge, 413, "RequestTooLarge"},
		{"a form instead of JSON", "POST", "/orders", "application/x-www-form-urlencoded", `orderId=o-x`, 415, "UnsupportedMediaType"},
		{"no content type", "POST", "/orders", none, valid, 415, "UnsupportedMediaType"},
		{"a cancel to COMPLETED", "POST", "/orders/o-keep/cancel", js, `{"status":"COMPLETED"}`, 422, "ValidationFailed"},
		{"a cancel to PENDING", "POST", "/orders/o-keep/cancel", js, `{"status":"PENDING"}`, 422, "ValidationFailed"},
		{"a cancel without a status", "POST", "/orders/o-keep/cancel", js, `{"reason":"why not"}`, 422, "ValidationFailed"},
		{"a cancel reason over 1000 characters", "POST", "/orders/o-keep/cancel", js, `{"status":"CANCELLED","reason":"` + strings.Repeat("r", 1001) + `"}`, 422, "ValidationFailed"},
		{"a cancel with no body", "POST", "/orders/o-keep/cancel", js, ``, 400, "MalformedRequest"},
		{"a cancel with an unknown field", "POST", "/orders/o-keep/cancel", js, `{"status":"CANCELLED","why":"x"}`, 400, "MalformedRequest"},
		{"a cancel of an invalid order ID", "POST", "/orders/bad%20id/cancel", js, `{"status":"CANCELLED"}`, 422, "ValidationFailed"},
		{"a status update to PENDING", "PUT", "/orders/o-keep/status", js, `{"status":"PENDING","version":1}`, 422, "ValidationFailed"},
		{"a status update with a state that is not an object", "PUT", "/orders/o-keep/status", js, `{"status":"PAID","version":1,"state":"x"}`, 422, "ValidationFailed"},
		{"a status update to PENDING", "PUT", "/orders/o-keep/status", js, `{"status":"PENDING","version":1}`, 422, "ValidationFailed"},
		{"a status update to an unknown status", "PUT", "/orders/o-keep/status", js, `{"status":"SHIPPED","version":1}`, 422, "ValidationFailed"},
		{"a status update with version 0", "PUT", "/orders/o-keep/status", js, `{"status":"PAID","version":0}`, 422, "ValidationFailed"},
		{"a status update with a negative version", "PUT", "/orders/o-keep/status", js, `{"status":"PAID","version":-1}`, 422, "ValidationFailed"},
		{"a status update with a fractional version", "PUT", "/orders/o-keep/status", js, `{"status":"PAID","version":1.5}`, 400, "MalformedRequest"},
		{"a status update of an unknown order", "PUT", "/orders/o-x/status", js, `{"status":"PAID","version":1}`, 404, "NotFound"},
		{"a confirm of an unknown order", "POST", "/orders/o-x/confirm", none, ``, 404, "NotFound"},
		{"a confirm of a NUL order ID", "POST", "/orders/%00/confirm", none, ``, 422, "ValidationFailed"},
		{"an unknown order", "GET", "/orders/o-x", none, ``, 404, "NotFound"},
		{"a NUL order ID", "GET", "/orders/%00", none, ``, 404, "NotFound"},
		{"a list by an unknown status", "GET", "/orders?status=BOGUS", none, ``, 422, "ValidationFailed"},
		{"a list with a non-numeric limit", "GET", "/orders?limit=abc", none, ``, 422, "ValidationFailed"},
		{"a list with limit 0", "GET", "/orders?limit=0", none, ``, 422, "ValidationFailed"},
		{"a list with a negative limit", "GET", "/orders?limit=-1", none, ``, 422, "ValidationFailed"},
		{"a list with limit 101", "GET", "/orders?limit=101", none, ``, 422, "ValidationFailed"},
		{"a list with a garbled cursor", "GET", "/orders?cursor=%21%21garbage", none, ``, 422, "ValidationFailed"},
		{"a list by an invalid customer ID", "GET", "/orders?customerId=a%20b", none, ``, 422, "ValidationFailed"},
		{"an unknown route", "GET", "/nope", none, ``, 404, "RouteNotFound"},
		{"a wrong method", "DELETE", "/orders/o-keep", none, ``, 405, "MethodNotAllowed"},
	}
	dbtest.Each(t, func(t *testing.T, cfg database.Config) {
		s := start(t, cfg)
		s.create(t, newOrder("o-keep"))
		before := s.all(t, order.ListQuery{})
		for _, tc := range cases {
			t.Run(tc.name+" is answered "+fmt.Sprint(tc.status), func(t *testing.T) {
				resp, data := servicetest.Send(t, tc.method, s.url+tc.path, tc.contentType, tc.body)
				p := servicetest.DecodeProblem(t, resp, data)
				if resp.StatusCode != tc.status || p.Code != tc.code || p.Status != tc.status {
					t.Errorf("answer %d %+v, want %d %s", resp.StatusCode, p, tc.status, tc.code)
				}
			})
		}
		if after := s.all(t, order.ListQuery{}); !reflect.DeepEqual(after, before) {
			t.Errorf("bad requests changed the orders:\nbefore %+v\nafter  %+v", before, after)
		}
	})
}

func TestValidationNamesTheFields(t *testing.T) {
	s := start(t, dbtest.SQLite(t))
	req := newOrder("o-x")
	req.Items[1].Quantity = 0
	req.ShippingAddress.Country = "usa"
	_, err := s.client.Create(context.Background(), req)
	var re *httpx.ResponseError
	if !errors.As(err, &re) || !errors.Is(err, validate.ErrInvalid) {
		t.Fatalf("err = %v, want a validation ResponseError", err)
	}
	var fields []string
	for _, f := range re.Problem.Errors {
		fields = append(fields, f.Field)
	}
	for _, want := range []string{"items[1].quantity", "shippingAddress.country"} {
		if !slices.Contains(fields, want) {
			t.Errorf("invalid fields %v do not name %s", fields, want)
		}
	}
}

func TestFaultInjection(t *testing.T) {
	ctx := context.Background()
	dbtest.Each(t, func(t *testing.T, cfg database.Config) {
		s := start(t, cfg)
		fc := s.client.Faults()
		s.create(t, newOrder("o-before"))

		t.Run("an error rate of 1 on create answers 503 and writes nothing", func(t *testing.T) {
			if err := fc.Set(ctx, faults.Config{ErrorRate: 1, Operations: []string{"create"}}); err != nil {
				t.Fatal(err)
			}
			status, _, err := s.postCreate(newOrder("o-f"))
			if err != nil || status != http.StatusServiceUnavailable {
				t.Fatalf("create = %d, %v; want 503", status, err)
			}
			if _, err := s.client.Create(ctx, newOrder("o-f")); !errors.Is(err, httpx.ErrUnavailable) {
				t.Fatalf("err = %v, want ErrUnavailable", err)
			}
			if _, err := s.client.Get(ctx, "o-f"); !errors.Is(err, order.ErrNotFound) {
				t.Errorf("the failed create left an order: %v", err)
			}
			if got := ids(s.all(t, order.ListQuery{})); !slices.Equal(got, []string{"o-before"}) {
				t.Errorf("orders = %v, want [o-before]", got)
			}
		})
		t.Run("the settings read back from GET /admin/faults", func(t *testing.T) {
			got, err := fc.Get(ctx)
			if err != nil || got.ErrorRate != 1 || !slices.Equal(got.Operations, []string{"create"}) || got.Down {
				t.Errorf("GET /admin/faults = %+v, %v; want error rate 1 on create", got, err)
			}
		})
		t.Run("operations that are not targeted still work", func(t *testing.T) {
			if _, err := s.client.SetStatus(ctx, "o-before", order.StatusUpdate{Status: order.Paid, Version: 1}); err != nil {
				t.Errorf("set status: %v", err)
			}
			if o, err := s.client.Confirm(ctx, "o-before"); err != nil || o.Status != order.Completed {
				t.Errorf("confirm = %+v, %v; want COMPLETED", o, err)
			}
		})
		t.Run("down fails reads and status updates but not the health check", func(t *testing.T) {
			if err := fc.Set(ctx, faults.Config{Down: true}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.client.Get(ctx, "o-before"); !errors.Is(err, httpx.ErrUnavailable) {
				t.Errorf("get while down: err = %v, want ErrUnavailable", err)
			}
			if _, err := s.client.SetStatus(ctx, "o-before", order.StatusUpdate{Status: order.Paid, Version: 2}); !errors.Is(err, httpx.ErrUnavailable) {
				t.Errorf("set status while down: err = %v, want ErrUnavailable", err)
			}
			if err := s.client.Healthy(ctx); err != nil {
				t.Errorf("healthz while down: %v (the process is up)", err)
			}
			if err := fc.Set(ctx, faults.Config{}); err != nil {
				t.Fatal(err)
			}
			if o := s.get(t, "o-before"); o.Version != 1 {
				t.Errorf("o-before version = %d, want 1 (the update while down must not apply)", o.Version)
			}
		})
		t.Run("an operation the service does not have is refused", func(t *testing.T) {
			if err := fc.Set(ctx, faults.Config{Operations: []string{"reserve"}}); !errors.Is(err, validate.ErrInvalid) {
				t.Errorf("err = %v, want ErrValidation", err)
			}
		})
	})
}

func TestClientGetOfAnEmptyIDIsNotFound(t *testing.T) {
	s := start(t, dbtest.SQLite(t))
	if _, err := s.client.Get(context.Background(), ""); !errors.Is(err, order.ErrNotFound) {
		t.Errorf("err = %v, want ErrNotFound", err)
	}
}
