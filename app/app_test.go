package app_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/temporal"

	"github.com/ordersaga/ordersaga/app"
	"github.com/ordersaga/ordersaga/internal/env"
	"github.com/ordersaga/ordersaga/internal/httpx"
	"github.com/ordersaga/ordersaga/internal/validate"
	"github.com/ordersaga/ordersaga/saga"
	"github.com/ordersaga/ordersaga/services/inventory"
	"github.com/ordersaga/ordersaga/services/order"
	"github.com/ordersaga/ordersaga/workflows"
)

func newService(sagas *fakeSagas, orders *fakeOrders) *app.Service {
	return app.New(app.Config{Namespace: "ns", UIURL: "http://ui", Policy: saga.Policy{ApprovalThresholdCents: 100000}},
		sagas, orders, fakeCatalog{}, slog.New(slog.DiscardHandler))
}

// fields returns the invalid fields of a *validate.Error, or nil.
func fields(err error) []string {
	var ve *validate.Error
	if !errors.As(err, &ve) {
		return nil
	}
	var out []string
	for _, f := range ve.Fields {
		out = append(out, f.Field)
	}
	return out
}

func TestPlaceANewOrder(t *testing.T) {
	ctx := context.Background()
	t.Run("without a wait it starts the saga and answers PENDING at once, priced", func(t *testing.T) {
		sagas := &fakeSagas{}
		var started saga.OrderInput
		sagas.start = func(in saga.OrderInput, _ workflows.Placement) (string, error) { started = in; return "run-1", nil }
		p, err := newService(sagas, &fakeOrders{}).Place(ctx, request(), "", 0)
		if err != nil {
			t.Fatal(err)
		}
		v := p.Order
		if !p.Created || v.Status != saga.StatusPending || v.RunID != "run-1" || v.TotalCents != 3000 || len(v.Steps) != len(saga.Steps) {
			t.Errorf("placed = %+v", p)
		}
		if !strings.HasPrefix(v.OrderID, "ord-") || v.WorkflowID != "order-"+v.OrderID {
			t.Errorf("order ID %q, workflow %q; want a new ord- ID", v.OrderID, v.WorkflowID)
		}
		if v.Links.Self != "/v1/orders/"+v.OrderID || v.Links.TemporalUI != "http://ui/namespaces/ns/workflows/order-"+v.OrderID+"/run-1/history" {
			t.Errorf("links = %+v", v.Links)
		}
		if started.Policy.ApprovalThresholdCents != 100000 || started.Items[0].UnitPriceCents != 1500 {
			t.Errorf("started with %+v, want the policy and catalogue prices", started)
		}
		if sagas.placed.RequestHash == "" || sagas.placed.IdempotencyKey != "" {
			t.Errorf("placement = %+v", sagas.placed)
		}
	})
	t.Run("an Idempotency-Key derives the order ID and is kept", func(t *testing.T) {
		sagas := &fakeSagas{}
		p, err := newService(sagas, &fakeOrders{}).Place(ctx, request(), "k-1", 0)
		if err != nil || p.Order.OrderID != app.OrderIDForKey("cust-1", "k-1") || sagas.placed.IdempotencyKey != "k-1" {
			t.Errorf("placed %s (%v), placement %+v", p.Order.OrderID, err, sagas.placed)
		}
		if app.OrderIDForKey("cust-1", "k-1") == app.OrderIDForKey("cust-1", "k-2") || len(app.OrderIDForKey("cust-1", "k-1")) != 28 {
			t.Errorf("OrderIDForKey = %q", app.OrderIDForKey("cust-1", "k-1"))
		}
	})
	t.Run("the same Idempotency-Key from two customers is two orders", func(t *testing.T) {
		sagas := &fakeSagas{}
		s := newService(sagas, &fakeOrders{})
		first, err := s.Place(ctx, request(), "k-1", 0)
		if err != nil {
			t.Fatal(err)
		}
		other := request()
		other.CustomerID = "cust-2"
		second, err := s.Place(ctx, other, "k-1", 0)
		if err != nil || !second.Created || second.Order.OrderID == first.Order.OrderID ||
			second.Order.OrderID != app.OrderIDForKey("cust-2", "k-1") {
			t.Errorf("cust-2 with cust-1's key: %s created=%v (%v); want a new order, not %s",
				second.Order.OrderID, second.Created, err, first.Order.OrderID)
		}
		// Concatenations that agree must not make the same ID.
		if app.OrderIDForKey("cust-1", "2k") == app.OrderIDForKey("cust-12", "k") {
			t.Error("OrderIDForKey does not separate the customer from the key")
		}
	})
	t.Run("with a wait it starts and waits in one request, and answers the settled order", func(t *testing.T) {
		sagas := &fakeSagas{startAndAwait: func(ctx context.Context, in saga.OrderInput, _ workflows.Placement) (saga.OrderState, string, error) {
			if _, ok := ctx.Deadline(); !ok {
				t.Error("the wait has no deadline")
			}
			return saga.OrderState{OrderID: in.OrderID, Status: saga.StatusCompleted, WorkflowID: saga.WorkflowID(in.OrderID)}, "run-2", nil
		}}
		p, err := newService(sagas, &fakeOrders{}).Place(ctx, request(), "", 5*time.Second)
		if err != nil || !p.Created || p.Order.Status != saga.StatusCompleted || sagas.called("Start") != 0 {
			t.Errorf("placed = %+v, %v; calls %v", p, err, sagas.calls)
		}
	})
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"the wait ends first", context.DeadlineExceeded},
		{"the wait fails", errDown},
	} {
		t.Run("when "+tc.name+" after the start, the answer is the PENDING order, not an error", func(t *testing.T) {
			sagas := &fakeSagas{startAndAwait: func(context.Context, saga.OrderInput, workflows.Placement) (saga.OrderState, string, error) {
				return saga.OrderState{}, "run-3", tc.err
			}}
			p, err := newService(sagas, &fakeOrders{}).Place(ctx, request(), "", time.Second)
			if err != nil || !p.Created || p.Order.Status != saga.StatusPending || p.Order.RunID != "run-3" {
				t.Errorf("placed = %+v, %v", p, err)
			}
		})
	}
	t.Run("when the start's answer is lost, Temporal is asked whether it happened", func(t *testing.T) {
		sagas := &fakeSagas{start: func(saga.OrderInput, workflows.Placement) (string, error) { return "", errDown }}
		sagas.describe = func(string) (workflows.Execution, error) {
			return workflows.Execution{RunID: "run-4", Running: true, Placement: sagas.placed}, nil
		}
		p, err := newService(sagas, &fakeOrders{}).Place(ctx, request(), "", 0)
		if err != nil || !p.Created || p.Order.RunID != "run-4" {
			t.Errorf("placed = %+v, %v", p, err)
		}
	})
	t.Run("when the start failed and no order exists, the error is Temporal's, unavailable", func(t *testing.T) {
		sagas := &fakeSagas{start: func(saga.OrderInput, workflows.Placement) (string, error) { return "", errDown }}
		_, err := newService(sagas, &fakeOrders{}).Place(ctx, request(), "", 0)
		if !errors.Is(err, httpx.ErrUnavailable) {
			t.Errorf("err = %v, want unavailable", err)
		}
	})
	t.Run("an unknown product is refused before anything starts", func(t *testing.T) {
		sagas := &fakeSagas{}
		req := request()
		req.Items[0].SKU = "SKU-NOPE"
		_, err := newService(sagas, &fakeOrders{}).Place(ctx, req, "", 0)
		if !errors.Is(err, inventory.ErrUnknownProduct) || sagas.called("Start") != 0 {
			t.Errorf("err = %v, calls %v", err, sagas.calls)
		}
	})
}

func TestPlaceValidates(t *testing.T) {
	cases := []struct {
		name   string
		mod    func(*app.PlaceRequest)
		key    string
		wait   time.Duration
		fields []string
	}{
		{"no items", func(r *app.PlaceRequest) { r.Items = nil }, "", 0, []string{"items"}},
		{"a bad customer ID", func(r *app.PlaceRequest) { r.CustomerID = "a b" }, "", 0, []string{"customerId"}},
		{"a bad order ID", func(r *app.PlaceRequest) { r.OrderID = "-x" }, "", 0, []string{"orderId"}},
		{"a blank payment method", func(r *app.PlaceRequest) { r.PaymentMethod = " " }, "", 0, []string{"paymentMethod"}},
		{"a lower-case country", func(r *app.PlaceRequest) { r.ShippingAddress.Country = "us" }, "", 0, []string{"shippingAddress.country"}},
		{"an empty address", func(r *app.PlaceRequest) { r.ShippingAddress = saga.Address{Country: "US"} }, "", 0,
			[]string{"shippingAddress.name", "shippingAddress.line1", "shippingAddress.city", "shippingAddress.postalCode"}},
		{"a key of 256 characters", func(*app.PlaceRequest) {}, strings.Repeat("k", 256), 0, []string{"Idempotency-Key"}},
		{"a key and an order ID", func(r *app.PlaceRequest) { r.OrderID = "o-1" }, "k", 0, []string{"Idempotency-Key"}},
		{"a wait over 30s", func(*app.PlaceRequest) {}, "", time.Minute, []string{"wait"}},
		{"a negative wait and no items", func(r *app.PlaceRequest) { r.Items = nil }, "", -time.Second, []string{"items", "wait"}},
	}
	for _, tc := range cases {
		t.Run(tc.name+" is refused, naming the fields", func(t *testing.T) {
			req := request()
			tc.mod(&req)
			sagas := &fakeSagas{}
			_, err := newService(sagas, &fakeOrders{}).Place(context.Background(), req, tc.key, tc.wait)
			if got := fields(err); strings.Join(got, ",") != strings.Join(tc.fields, ",") || !errors.Is(err, validate.ErrInvalid) {
				t.Errorf("err = %v, fields %v; want %v", err, got, tc.fields)
			}
			if len(sagas.calls) != 0 {
				t.Errorf("an invalid request reached Temporal: %v", sagas.calls)
			}
		})
	}
}

func TestPlaceARepeatedRequest(t *testing.T) {
	ctx := context.Background()
	alreadyStarted := serviceerror.NewWorkflowExecutionAlreadyStarted("started", "", "run-1")
	setup := func(t *testing.T, hashOf func(first workflows.Placement) string) (*fakeSagas, *fakeOrders) {
		t.Helper()
		sagas, orders := &fakeSagas{}, &fakeOrders{}
		var first workflows.Placement
		sagas.start = func(_ saga.OrderInput, p workflows.Placement) (string, error) {
			if first.RequestHash == "" {
				first = p
				return "run-1", nil
			}
			return "", alreadyStarted
		}
		sagas.describe = func(string) (workflows.Execution, error) {
			return workflows.Execution{RunID: "run-1", Running: true, Placement: workflows.Placement{RequestHash: hashOf(first)}}, nil
		}
		return sagas, orders
	}
	same := func(first workflows.Placement) string { return first.RequestHash }
	other := func(workflows.Placement) string { return "another request" }

	t.Run("the same request again, once the order service has the order, is answered from it", func(t *testing.T) {
		sagas, orders := setup(t, same)
		s := newService(sagas, orders)
		req := request()
		req.OrderID = "o-7"
		if _, err := s.Place(ctx, req, "", 0); err != nil {
			t.Fatal(err)
		}
		orders.set(stored("o-7", order.Paid, &saga.OrderState{OrderID: "o-7", Status: saga.StatusPaid}))
		p, err := s.Place(ctx, req, "", 0)
		if err != nil || p.Created || p.Order.Status != saga.StatusPaid || sagas.called("Start") != 1 {
			t.Errorf("replay = %+v, %v; calls %v; want the PAID order, not created, no second start", p, err, sagas.calls)
		}
	})
	t.Run("the same request again, while the order service is away, gets the order as placed", func(t *testing.T) {
		sagas, orders := setup(t, same)
		s := newService(sagas, orders)
		if _, err := s.Place(ctx, request(), "k", 0); err != nil {
			t.Fatal(err)
		}
		orders.err = errDown
		p, err := s.Place(ctx, request(), "k", 0)
		if err != nil || p.Created || p.Order.Status != saga.StatusPending || p.Order.RunID != "run-1" {
			t.Errorf("replay = %+v, %v; want the PENDING order, no error", p, err)
		}
	})
	t.Run("the same request again with a wait waits on the order, without an update", func(t *testing.T) {
		sagas, orders := setup(t, same)
		sagas.startAndAwait = func(context.Context, saga.OrderInput, workflows.Placement) (saga.OrderState, string, error) {
			return saga.OrderState{}, "", alreadyStarted
		}
		sagas.input = func(orderID, _ string) (saga.OrderInput, error) {
			return saga.OrderInput{Order: saga.Order{OrderID: orderID}}, nil
		}
		s := newService(sagas, orders)
		if _, err := s.Place(ctx, request(), "k", 0); err != nil {
			t.Fatal(err)
		}
		id := app.OrderIDForKey("cust-1", "k")
		sagas.watch = func(context.Context, []byte) ([]byte, bool, error) {
			orders.set(stored(id, order.Completed, nil)) // the saga's first step wrote the order, and it completed
			return []byte("t"), true, nil
		}
		p, err := s.Place(ctx, request(), "k", time.Second)
		if err != nil || p.Created || p.Order.Status != saga.StatusCompleted || sagas.called("Update "+saga.UpdateAwaitSettled) != 0 {
			t.Errorf("replay = %+v, %v; calls %v", p, err, sagas.calls)
		}
	})
	for _, tc := range []struct {
		key  string
		want error
	}{{"k", app.ErrKeyReused}, {"", app.ErrOrderExists}} {
		t.Run(fmt.Sprintf("another request with the same ID is %v", tc.want), func(t *testing.T) {
			sagas, orders := setup(t, other)
			s := newService(sagas, orders)
			req := request()
			if tc.key == "" {
				req.OrderID = "o-8"
			}
			if _, err := s.Place(ctx, req, tc.key, 0); err != nil {
				t.Fatal(err)
			}
			req.Items[0].Quantity = 3
			if _, err := s.Place(ctx, req, tc.key, 0); !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestPlaceAnIDThatThePastHolds(t *testing.T) {
	ctx := context.Background()
	old := stored("o-old", order.Completed, nil)
	withCoupon := stored("o-old", order.Completed, &saga.OrderState{OrderID: "o-old", Status: saga.StatusCompleted, CouponCode: "WELCOME10"})
	cases := []struct {
		name    string
		mod     func(*app.PlaceRequest)
		row     order.Order
		key     string
		want    error
		replays bool
	}{
		{"the same request is a replay of the old order", func(*app.PlaceRequest) {}, old, "", nil, true},
		{"another body is ErrOrderExists", func(r *app.PlaceRequest) { r.Items[0].Quantity = 5 }, old, "", app.ErrOrderExists, false},
		{"another address is ErrOrderExists", func(r *app.PlaceRequest) { r.ShippingAddress.City = "x" }, old, "", app.ErrOrderExists, false},
		{"a tombstone refuses any request", func(*app.PlaceRequest) {}, order.Order{OrderID: "o-old", Status: order.Cancelled, Tombstone: true}, "", app.ErrOrderExists, false},
		{"another coupon is ErrOrderExists", func(r *app.PlaceRequest) { r.CouponCode = "SAVE5" }, withCoupon, "", app.ErrOrderExists, false},
		{"no coupon, when the old order had one, is ErrOrderExists", func(*app.PlaceRequest) {}, withCoupon, "", app.ErrOrderExists, false},
		{"the same coupon is a replay", func(r *app.PlaceRequest) { r.CouponCode = "WELCOME10" }, withCoupon, "", nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sagas, orders := &fakeSagas{}, &fakeOrders{}
			orders.set(tc.row)
			req := request()
			req.OrderID = "o-old"
			tc.mod(&req)
			p, err := newService(sagas, orders).Place(ctx, req, tc.key, 0)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if tc.replays && (p.Created || p.Order.Status != saga.StatusCompleted) {
				t.Errorf("placed = %+v, want the old COMPLETED order", p)
			}
			if sagas.called("Start") != 0 {
				t.Error("a saga was started for an ID the past holds")
			}
		})
	}
	t.Run("when the order service is away, the check is skipped and the order placed", func(t *testing.T) {
		sagas := &fakeSagas{}
		req := request()
		req.OrderID = "o-new"
		p, err := newService(sagas, &fakeOrders{err: errDown}).Place(ctx, req, "", 0)
		if err != nil || !p.Created || sagas.called("Start") != 1 {
			t.Errorf("placed = %+v, %v", p, err)
		}
	})
}

func TestGet(t *testing.T) {
	ctx := context.Background()
	view := &saga.OrderState{OrderID: "o-1", Status: saga.StatusPaid, RunID: "run-1", WorkflowID: "order-o-1",
		Steps: []saga.StepState{{Name: saga.StepChargePayment, Status: saga.StepCompleted, Attempts: 3}}}
	t.Run("an order the read model holds is its saga's view", func(t *testing.T) {
		orders := &fakeOrders{}
		orders.set(stored("o-1", order.Paid, view))
		sagas := &fakeSagas{}
		v, err := newService(sagas, orders).Get(ctx, "o-1")
		if err != nil || v.Status != saga.StatusPaid || v.Steps[0].Attempts != 3 || len(sagas.calls) != 0 {
			t.Errorf("view = %+v, %v; calls %v (the read model costs no Temporal call)", v, err, sagas.calls)
		}
	})
	t.Run("a final status the order service has before the saga's last view wins", func(t *testing.T) {
		orders := &fakeOrders{}
		o := stored("o-1", order.Rejected, &saga.OrderState{OrderID: "o-1", Status: saga.StatusCompensating})
		o.Reason, o.FailedStep, o.ErrorType = "declined", "ChargePayment", "PaymentDeclined"
		orders.set(o)
		v, err := newService(&fakeSagas{}, orders).Get(ctx, "o-1")
		if err != nil || v.Status != saga.StatusRejected || v.Failure == nil || v.Failure.Type != "PaymentDeclined" {
			t.Errorf("view = %s %+v, %v", v.Status, v.Failure, err)
		}
	})
	t.Run("before the saga's first view, the steps follow from the row", func(t *testing.T) {
		orders := &fakeOrders{}
		orders.set(stored("o-1", order.Pending, nil))
		tomb := order.Order{OrderID: "o-2", Status: order.Cancelled, Tombstone: true}
		orders.set(tomb)
		s := newService(&fakeSagas{}, orders)
		v, err := s.Get(ctx, "o-1")
		if err != nil || v.Status != saga.StatusPending || v.Steps[0].Status != saga.StepCompleted || v.Steps[1].Status != saga.StepPending {
			t.Errorf("view = %+v, %v", v, err)
		}
		if v, _ := s.Get(ctx, "o-2"); v.Steps[0].Status != saga.StepPending || v.Status != saga.StatusCancelled {
			t.Errorf("tombstone view = %+v", v)
		}
	})
	t.Run("an order the read model does not have yet is read from Temporal, as placed", func(t *testing.T) {
		sagas := &fakeSagas{
			describe: func(string) (workflows.Execution, error) {
				return workflows.Execution{RunID: "run-9", Running: true, OrderStatus: saga.StatusPending}, nil
			},
			input: func(orderID, runID string) (saga.OrderInput, error) {
				return saga.OrderInput{Order: saga.Order{OrderID: orderID, TotalCents: 800, Items: []saga.Item{{SKU: "SKU-MUG", Quantity: 1}}}}, nil
			},
		}
		v, err := newService(sagas, &fakeOrders{}).Get(ctx, "o-9")
		if err != nil || v.Status != saga.StatusPending || v.TotalCents != 800 || v.RunID != "run-9" {
			t.Errorf("view = %+v, %v", v, err)
		}
	})
	t.Run("an order whose workflow closed without saying how shows the execution's status", func(t *testing.T) {
		sagas := &fakeSagas{
			describe: func(string) (workflows.Execution, error) {
				return workflows.Execution{RunID: "run-9", Status: "Terminated", OrderStatus: saga.StatusPending}, nil
			},
			input: func(orderID, _ string) (saga.OrderInput, error) {
				return saga.OrderInput{Order: saga.Order{OrderID: orderID}}, nil
			},
		}
		v, err := newService(sagas, &fakeOrders{}).Get(ctx, "o-9")
		if err != nil || v.Status != "Terminated" {
			t.Errorf("view = %s, %v", v.Status, err)
		}
	})
	for _, tc := range []struct {
		name   string
		id     string
		orders *fakeOrders
		sagas  *fakeSagas
		want   error
	}{
		{"an order nobody knows is not found", "o-x", &fakeOrders{}, &fakeSagas{}, app.ErrOrderNotFound},
		{"an ID that cannot exist is not found", "a b", &fakeOrders{}, &fakeSagas{}, app.ErrOrderNotFound},
		{"an order service that is away is unavailable", "o-x", &fakeOrders{err: fmt.Errorf("%w: down", httpx.ErrUnavailable)}, &fakeSagas{}, httpx.ErrUnavailable},
		{"an input that cannot be read is unavailable", "o-x", &fakeOrders{}, &fakeSagas{
			describe: func(string) (workflows.Execution, error) { return workflows.Execution{}, nil },
			input:    func(string, string) (saga.OrderInput, error) { return saga.OrderInput{}, errDown }}, httpx.ErrUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := newService(tc.sagas, tc.orders).Get(ctx, tc.id); !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestGetLive(t *testing.T) {
	ctx := context.Background()
	t.Run("the workflow's query answers, exact to the step", func(t *testing.T) {
		sagas := &fakeSagas{query: func(id string) (saga.OrderState, error) {
			return saga.OrderState{OrderID: id, Status: saga.StatusReserved,
				Steps: []saga.StepState{{Name: saga.StepChargePayment, Status: saga.StepRunning}}}, nil
		}}
		v, err := newService(sagas, &fakeOrders{}).GetLive(ctx, "o-1")
		if err != nil || v.Steps[0].Status != saga.StepRunning {
			t.Errorf("view = %+v, %v", v, err)
		}
	})
	t.Run("a workflow past retention is read from the order service", func(t *testing.T) {
		orders := &fakeOrders{}
		orders.set(stored("o-1", order.Completed, nil))
		s := newService(&fakeSagas{}, orders)
		if v, err := s.GetLive(ctx, "o-1"); err != nil || v.Status != saga.StatusCompleted {
			t.Errorf("view = %s, %v", v.Status, err)
		}
		if _, err := s.GetLive(ctx, "o-2"); !errors.Is(err, app.ErrOrderNotFound) {
			t.Errorf("err = %v, want not found", err)
		}
		if _, err := s.GetLive(ctx, "-"); !errors.Is(err, app.ErrOrderNotFound) {
			t.Errorf("err = %v, want not found", err)
		}
	})
	t.Run("a workflow that cannot answer (no worker) falls back to the read model", func(t *testing.T) {
		orders := &fakeOrders{}
		orders.set(stored("o-1", order.Reserved, nil))
		sagas := &fakeSagas{query: func(string) (saga.OrderState, error) { return saga.OrderState{}, context.DeadlineExceeded }}
		if v, err := newService(sagas, orders).GetLive(ctx, "o-1"); err != nil || v.Status != saga.StatusReserved {
			t.Errorf("view = %s, %v", v.Status, err)
		}
	})
}

func TestAwait(t *testing.T) {
	ctx := context.Background()
	t.Run("a settled order answers at once, without watching", func(t *testing.T) {
		orders := &fakeOrders{}
		orders.set(stored("o-1", order.AwaitingApproval, nil))
		sagas := &fakeSagas{}
		if v, err := newService(sagas, orders).Await(ctx, "o-1", time.Second); err != nil || v.Status != saga.StatusAwaitingApproval || sagas.called("Watch") != 0 {
			t.Errorf("view = %s, %v, calls %v", v.Status, err, sagas.calls)
		}
	})
	t.Run("it reads the read model each time the history moves, until the order settles", func(t *testing.T) {
		orders := &fakeOrders{}
		orders.set(stored("o-1", order.Reserved, nil))
		sagas := &fakeSagas{}
		sagas.watch = func(_ context.Context, token []byte) ([]byte, bool, error) {
			switch string(token) {
			case "":
				return []byte("t1"), false, nil // events, but no workflow task completed
			case "t1":
				orders.set(stored("o-1", order.Paid, nil))
				return []byte("t2"), true, nil
			default:
				orders.set(stored("o-1", order.Completed, nil))
				return []byte("t3"), true, nil
			}
		}
		v, err := newService(sagas, orders).Await(ctx, "o-1", 5*time.Second)
		if err != nil || v.Status != saga.StatusCompleted || sagas.called("Watch") != 3 {
			t.Errorf("view = %s, %v; watched %d times", v.Status, err, sagas.called("Watch"))
		}
	})
	t.Run("when the workflow closes, the last read answers", func(t *testing.T) {
		orders := &fakeOrders{}
		orders.set(stored("o-1", order.Compensating, nil))
		sagas := &fakeSagas{watch: func(context.Context, []byte) ([]byte, bool, error) {
			orders.set(stored("o-1", order.Cancelled, nil))
			return nil, false, workflows.ErrHistoryEnded
		}}
		if v, err := newService(sagas, orders).Await(ctx, "o-1", 5*time.Second); err != nil || v.Status != saga.StatusCancelled {
			t.Errorf("view = %s, %v", v.Status, err)
		}
	})
	t.Run("when the wait ends first, the latest view answers", func(t *testing.T) {
		orders := &fakeOrders{}
		orders.set(stored("o-1", order.Paid, nil))
		start := time.Now()
		v, err := newService(&fakeSagas{}, orders).Await(ctx, "o-1", 50*time.Millisecond)
		if err != nil || v.Status != saga.StatusPaid || time.Since(start) > 5*time.Second {
			t.Errorf("view = %s, %v", v.Status, err)
		}
	})
	t.Run("a wait out of bounds is refused", func(t *testing.T) {
		if _, err := newService(&fakeSagas{}, &fakeOrders{}).Await(ctx, "o-1", time.Hour); !errors.Is(err, validate.ErrInvalid) {
			t.Errorf("err = %v", err)
		}
	})
}

func TestList(t *testing.T) {
	orders := &fakeOrders{}
	orders.set(stored("o-1", order.Completed, &saga.OrderState{OrderID: "o-1", Status: saga.StatusCompleted}))
	l, err := newService(&fakeSagas{}, orders).List(context.Background(), order.ListQuery{CustomerID: "cust-1"})
	if err != nil || len(l.Orders) != 1 || l.Orders[0].Status != saga.StatusCompleted || l.Orders[0].Links.Self != "/v1/orders/o-1" {
		t.Errorf("list = %+v, %v", l, err)
	}
	if _, err := newService(&fakeSagas{}, &fakeOrders{err: errDown}).List(context.Background(), order.ListQuery{}); !errors.Is(err, errDown) {
		t.Errorf("err = %v", err)
	}
}

func TestCancelAndDecide(t *testing.T) {
	ctx := context.Background()
	invalid := temporal.NewApplicationError("order o-1 is COMPLETED, not awaiting approval", saga.ErrTypeInvalidState)
	cases := []struct {
		name     string
		call     func(*app.Service) (app.OrderView, error)
		update   func(string, string, saga.Decision) (saga.OrderState, error)
		orders   *fakeOrders
		want     error
		wantName string
		wantBy   string
	}{
		{"a cancel goes to the workflow as the cancel update, by the customer",
			func(s *app.Service) (app.OrderView, error) {
				return s.Cancel(ctx, "o-1", app.Decision{Note: "changed my mind"})
			},
			nil, nil, nil, saga.UpdateCancel, "customer"},
		{"an approval goes as the approve update, by an operator",
			func(s *app.Service) (app.OrderView, error) { return s.Decide(ctx, "o-1", app.Approve, app.Decision{}) },
			nil, nil, nil, saga.UpdateApprove, "operator"},
		{"the decider's name is kept",
			func(s *app.Service) (app.OrderView, error) {
				return s.Decide(ctx, "o-1", app.Reject, app.Decision{By: "alice"})
			},
			nil, nil, nil, saga.UpdateReject, "alice"},
		{"a refusal of the workflow is ErrInvalidState",
			func(s *app.Service) (app.OrderView, error) { return s.Decide(ctx, "o-1", app.Approve, app.Decision{}) },
			func(string, string, saga.Decision) (saga.OrderState, error) { return saga.OrderState{}, invalid }, nil, app.ErrInvalidState, "", ""},
		{"a closed workflow is ErrInvalidState, naming the order's status",
			func(s *app.Service) (app.OrderView, error) { return s.Cancel(ctx, "o-1", app.Decision{}) },
			func(string, string, saga.Decision) (saga.OrderState, error) { return saga.OrderState{}, errNotFound },
			func() *fakeOrders { o := &fakeOrders{}; o.set(stored("o-1", order.Completed, nil)); return o }(), app.ErrInvalidState, "", ""},
		{"an unknown order is not found",
			func(s *app.Service) (app.OrderView, error) { return s.Cancel(ctx, "o-1", app.Decision{}) },
			func(string, string, saga.Decision) (saga.OrderState, error) { return saga.OrderState{}, errNotFound }, nil, app.ErrOrderNotFound, "", ""},
		{"an ID that cannot exist is not found",
			func(s *app.Service) (app.OrderView, error) { return s.Cancel(ctx, "a b", app.Decision{}) }, nil, nil, app.ErrOrderNotFound, "", ""},
		{"Temporal away is unavailable",
			func(s *app.Service) (app.OrderView, error) { return s.Cancel(ctx, "o-1", app.Decision{}) },
			func(string, string, saga.Decision) (saga.OrderState, error) { return saga.OrderState{}, errDown }, nil, httpx.ErrUnavailable, "", ""},
		{"resolve-manually without a note is refused",
			func(s *app.Service) (app.OrderView, error) {
				return s.Decide(ctx, "o-1", app.ResolveManually, app.Decision{})
			},
			nil, nil, validate.ErrInvalid, "", ""},
		{"a note with a newline is refused",
			func(s *app.Service) (app.OrderView, error) { return s.Cancel(ctx, "o-1", app.Decision{Note: "a\nb"}) },
			nil, nil, validate.ErrInvalid, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var gotName, gotBy string
			sagas := &fakeSagas{update: tc.update}
			if sagas.update == nil {
				sagas.update = func(id, name string, d saga.Decision) (saga.OrderState, error) {
					return saga.OrderState{OrderID: id, Status: saga.StatusCancelled}, nil
				}
			}
			inner := sagas.update
			sagas.update = func(id, name string, d saga.Decision) (saga.OrderState, error) {
				gotName, gotBy = name, d.By
				return inner(id, name, d)
			}
			orders := tc.orders
			if orders == nil {
				orders = &fakeOrders{}
			}
			v, err := tc.call(newService(sagas, orders))
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if tc.want == nil && (gotName != tc.wantName || gotBy != tc.wantBy || v.OrderID != "o-1") {
				t.Errorf("sent %s by %q, answered %+v; want %s by %q", gotName, gotBy, v, tc.wantName, tc.wantBy)
			}
		})
	}
}

func TestReadPolicy(t *testing.T) {
	r := env.New(env.Map(map[string]string{"APPROVAL_THRESHOLD_CENTS": "5000", "APPROVAL_TIMEOUT": "1h"}))
	p := app.ReadPolicy(r)
	if p.ApprovalThresholdCents != 5000 || time.Duration(p.ApprovalTimeout) != time.Hour || p.CompensationAttempts != saga.DefaultCompensationAttempts {
		t.Errorf("policy = %+v", p)
	}
	r = env.New(env.Map(map[string]string{"APPROVAL_TIMEOUT": "soon"}))
	app.ReadPolicy(r)
	if err := r.Err(); err == nil || !strings.Contains(err.Error(), "APPROVAL_TIMEOUT") {
		t.Errorf("err = %v", err)
	}
}

// flakyCatalog is away for its first calls, then prices like fakeCatalog.
type flakyCatalog struct{ away int }

func (c *flakyCatalog) Quote(ctx context.Context, items []inventory.Item) (inventory.Quote, error) {
	if c.away > 0 {
		c.away--
		return inventory.Quote{}, fmt.Errorf("%w: the inventory restarts", httpx.ErrUnavailable)
	}
	return fakeCatalog{}.Quote(ctx, items)
}

func TestPlaceRidesThroughShortOutages(t *testing.T) {
	ctx := context.Background()
	t.Run("the pricing is retried while the catalogue is briefly away", func(t *testing.T) {
		s := app.New(app.Config{}, &fakeSagas{}, &fakeOrders{}, &flakyCatalog{away: 3}, slog.New(slog.DiscardHandler))
		if p, err := s.Place(ctx, request(), "", 0); err != nil || !p.Created {
			t.Errorf("placed = %+v, %v", p, err)
		}
	})
	t.Run("a catalogue away for longer is unavailable, not an internal error", func(t *testing.T) {
		s := app.New(app.Config{}, &fakeSagas{}, &fakeOrders{}, &flakyCatalog{away: 1000}, slog.New(slog.DiscardHandler))
		if _, err := s.Place(ctx, request(), "", 0); !errors.Is(err, httpx.ErrUnavailable) {
			t.Errorf("err = %v, want unavailable", err)
		}
	})
	t.Run("a start while Temporal is away gives up within the budget, unavailable", func(t *testing.T) {
		sagas := &fakeSagas{start: func(saga.OrderInput, workflows.Placement) (string, error) { return "", context.DeadlineExceeded }}
		sagas.describe = func(string) (workflows.Execution, error) { return workflows.Execution{}, errDown }
		if _, err := newService(sagas, &fakeOrders{}).Place(ctx, request(), "", 0); !errors.Is(err, httpx.ErrUnavailable) {
			t.Errorf("err = %v, want unavailable", err)
		}
	})
}
