package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ordersaga/ordersaga/internal/telemetry"

	"go.temporal.io/api/serviceerror"

	"github.com/ordersaga/ordersaga/domain"
	"github.com/ordersaga/ordersaga/internal/httpx"
	"github.com/ordersaga/ordersaga/internal/retry"
	"github.com/ordersaga/ordersaga/internal/validate"
	"github.com/ordersaga/ordersaga/saga"
	"github.com/ordersaga/ordersaga/services/inventory"
	"github.com/ordersaga/ordersaga/services/order"
	"github.com/ordersaga/ordersaga/workflows"
)

// PlaceRequest is an order as a customer asks for it: the body of POST /v1/orders.
type PlaceRequest struct {
	// OrderID is optional; without it, one is derived from the Idempotency-Key, or made up.
	OrderID         string        `json:"orderId,omitempty"`
	CustomerID      string        `json:"customerId"`
	Items           []ItemRequest `json:"items"`
	PaymentMethod   string        `json:"paymentMethod"`
	ShippingAddress saga.Address  `json:"shippingAddress"`
	// CouponCode is optional: one of the customer's coupons, redeemed by the saga.
	CouponCode string `json:"couponCode,omitempty"`
}

// ItemRequest is an order line as the customer asks for it; prices come from the catalogue.
type ItemRequest struct {
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
}

// MaxKeyLen bounds an Idempotency-Key.
const MaxKeyLen = 255

// MaxWait bounds how long a request may wait for an order to settle.
const MaxWait = 30 * time.Second

// Validate returns a *validate.Error naming the invalid fields of r, or nil.
func (r PlaceRequest) Validate() error {
	var v validate.Validator
	v.Check(r.OrderID == "" || domain.ID(r.OrderID).Valid(), "orderId", domain.IDRule)
	domain.ID(r.CustomerID).Check(&v, "customerId")
	domain.CheckLines(&v, "items", len(r.Items), func(i int) (domain.SKU, domain.Quantity) {
		return domain.SKU(r.Items[i].SKU), domain.Quantity(r.Items[i].Quantity)
	})
	domain.PaymentMethod.Check(&v, "paymentMethod", r.PaymentMethod)
	a := r.ShippingAddress
	domain.Name.Check(&v, "shippingAddress.name", a.Name)
	domain.Name.Check(&v, "shippingAddress.line1", a.Line1)
	domain.Name.Check(&v, "shippingAddress.city", a.City)
	domain.Name.Check(&v, "shippingAddress.postalCode", a.PostalCode)
	domain.Country(a.Country).Check(&v, "shippingAddress.country")
	v.Check(r.CouponCode == "" || domain.CouponCode(r.CouponCode).Valid(), "couponCode", domain.CouponCodeRule)
	return v.Err()
}

// hash identifies the request's content, to tell a replay from a different request.
func (r PlaceRequest) hash() string {
	b, _ := json.Marshal(r) // a struct of strings and ints always marshals
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// sameAs reports whether o, as the order service recorded it, was placed by a request
// with r's content: the same customer, items, payment method and address, and the same
// coupon as far as the saga's view of the order (which names it) was recorded.
func (r PlaceRequest) sameAs(o order.Order) bool {
	if o.CustomerID != r.CustomerID || o.PaymentMethod != r.PaymentMethod ||
		o.ShippingAddress != order.Address(r.ShippingAddress) || len(o.Items) != len(r.Items) {
		return false
	}
	if st := stateOf(o); len(o.State) > 0 && st.OrderID == o.OrderID && st.CouponCode != r.CouponCode {
		return false
	}
	for _, it := range r.Items {
		if !slices.ContainsFunc(o.Items, func(oi order.Item) bool { return oi.SKU == it.SKU && oi.Quantity == it.Quantity }) {
			return false
		}
	}
	return true
}

// OrderIDForKey returns the ID of the order a customer placed with an Idempotency-Key:
// "ord-" and 24 hex digits of the SHA-256 of the customer and the key, so that the same
// key from the same customer always finds the same order, and the same key from two
// customers makes two orders (a key is the client's choice: it must not reveal, or
// collide with, another customer's order). The NUL separator cannot occur in either.
func OrderIDForKey(customerID, key string) string {
	sum := sha256.Sum256([]byte("idempotency-key\x00" + customerID + "\x00" + key))
	return "ord-" + hex.EncodeToString(sum[:12])
}

// Placed is the outcome of Place: the order, and whether this request placed it (false
// for a replay of an earlier request).
type Placed struct {
	Order   OrderView
	Created bool
}

// Place places the order req, with its Idempotency-Key if any, and waits up to wait (at
// most MaxWait) for it to settle. The order ID is req's, or derived from the key, or new;
// an order ID places at most one order, ever: the same request again is a replay, another
// request with the same ID is ErrKeyReused (by key) or ErrOrderExists.
//
// Once the order's saga has started, Place answers with what it knows (at least the
// PENDING order) and no error: an error after the start would invite a retry that,
// without a key, would place a second order. Before, it returns a *validate.Error,
// inventory.ErrUnknownProduct, or an error wrapping httpx.ErrUnavailable.
func (s *Service) Place(ctx context.Context, req PlaceRequest, key string, wait time.Duration) (Placed, error) {
	var v validate.Validator
	v.Check(len(key) <= MaxKeyLen, "Idempotency-Key", fmt.Sprintf("must be at most %d characters", MaxKeyLen))
	v.Check(key == "" || req.OrderID == "", "Idempotency-Key",
		"send an Idempotency-Key or a body orderId, not both: an order ID is itself an idempotency key")
	if err := errors.Join(req.Validate(), v.Err(), checkWait(wait)); err != nil {
		return Placed{}, joinValidation(err)
	}
	orderID := req.OrderID
	switch {
	case orderID != "":
	case key != "":
		orderID = OrderIDForKey(req.CustomerID, key)
	default:
		orderID = workflows.NewOrderID()
	}
	byKey := key != ""
	if req.OrderID != "" || byKey {
		// A client-chosen ID may belong to an order whose workflow is gone (past the
		// namespace's retention): the order service still knows it.
		if view, found, err := s.pastOrder(ctx, orderID, req, byKey); found || err != nil {
			return Placed{Order: view}, err
		}
	}
	in, err := s.price(ctx, orderID, req)
	if err != nil {
		return Placed{}, err
	}
	p := workflows.Placement{RequestHash: req.hash(), IdempotencyKey: key}

	var (
		st    saga.OrderState
		runID string
	)
	if wait > 0 {
		wctx, cancel := context.WithTimeout(ctx, wait)
		st, runID, err = s.sagas.StartAndAwait(wctx, in, p)
		cancel()
	} else {
		// The client retries the start while Temporal is away, within the budget.
		sctx, cancel := context.WithTimeout(ctx, retry.Budget)
		runID, err = s.sagas.Start(sctx, in, p)
		cancel()
	}
	switch {
	case err == nil && wait > 0:
		return Placed{Order: s.viewOf(st), Created: true}, nil
	case runID != "": // started; nothing has happened yet, or the wait ended first
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			s.log.WarnContext(ctx, "the order started but waiting for it failed", "orderId", orderID, "error", err)
		}
		return Placed{Order: s.viewOf(initialState(in, runID, time.Now())), Created: true}, nil
	case errors.As(err, new(*serviceerror.WorkflowExecutionAlreadyStarted)):
		view, err := s.replay(ctx, in, p, wait)
		return Placed{Order: view}, err
	}
	// The start's answer may have been lost on its way back: ask whether it happened.
	dctx, cancel := context.WithTimeout(ctx, retry.Budget)
	defer cancel()
	x, derr := s.sagas.Describe(dctx, orderID)
	if derr != nil || x.Placement.RequestHash != p.RequestHash {
		return Placed{}, fromTemporal(orderID, err)
	}
	s.log.WarnContext(ctx, "the order started but its start's answer did not come", "orderId", orderID, "error", err)
	return Placed{Order: s.viewOf(initialState(in, x.RunID, x.StartTime)), Created: true}, nil
}

// checkWait returns a *validate.Error unless d is a wait of 0 to MaxWait.
func checkWait(d time.Duration) error {
	if d < 0 || d > MaxWait {
		return validate.Invalid("wait", "must be between 0s and 30s")
	}
	return nil
}

// joinValidation merges the field errors of several *validate.Error into one.
func joinValidation(err error) error {
	var all validate.Error
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var ve *validate.Error
		if errors.As(e, &ve) {
			all.Fields = append(all.Fields, ve.Fields...)
		}
	}
	return &all
}

// pastOrder answers a request for a client-chosen order ID that the order service
// already knows: the same request again is a replay of that order (found, with its view);
// another one is ErrKeyReused or ErrOrderExists. An order the service does not know (the
// usual case) is not found. When the order service cannot answer, the check is skipped:
// the workflow's ID still refuses a live duplicate, and a saga started for an ID that an
// old order holds is refused at its first step and changes nothing.
func (s *Service) pastOrder(ctx context.Context, orderID string, req PlaceRequest, byKey bool) (OrderView, bool, error) {
	o, err := s.orders.Get(ctx, orderID)
	switch {
	case errors.Is(err, order.ErrNotFound):
		return OrderView{}, false, nil
	case err != nil:
		s.log.WarnContext(ctx, "could not check the order service for an earlier order", "orderId", orderID, "error", err)
		return OrderView{}, false, nil
	case o.Tombstone || !req.sameAs(o):
		// A tombstone: the saga undid this ID before its order was created; it refuses any other.
		return OrderView{}, false, replayConflict(orderID, byKey)
	}
	return s.viewOf(stateOf(o)), true, nil
}

func replayConflict(orderID string, byKey bool) error {
	if byKey {
		return fmt.Errorf("%w: order %s was placed with this key", ErrKeyReused, orderID)
	}
	return fmt.Errorf("%w: %s", ErrOrderExists, orderID)
}

// replay answers a request whose order's workflow exists already: the same request again
// gets the order (waited on up to wait), another one a conflict.
func (s *Service) replay(ctx context.Context, in saga.OrderInput, p workflows.Placement, wait time.Duration) (OrderView, error) {
	x, err := s.sagas.Describe(ctx, in.OrderID)
	if err != nil {
		return OrderView{}, fromTemporal(in.OrderID, err)
	}
	if x.Placement.RequestHash != p.RequestHash {
		return OrderView{}, replayConflict(in.OrderID, p.IdempotencyKey != "")
	}
	var view OrderView
	if wait > 0 {
		view, err = s.Await(ctx, in.OrderID, wait)
	} else {
		view, err = s.Get(ctx, in.OrderID)
	}
	if err != nil {
		// The order exists: answer what is known rather than an error that invites a retry.
		s.log.WarnContext(ctx, "answering a replay with the order as placed", "orderId", in.OrderID, "error", err)
		view = s.viewOf(initialState(in, x.RunID, x.StartTime))
	}
	return view, nil
}

// price builds the workflow input, with prices from the catalogue.
func (s *Service) price(ctx context.Context, orderID string, req PlaceRequest) (saga.OrderInput, error) {
	items := make([]inventory.Item, len(req.Items))
	for i, it := range req.Items {
		items[i] = inventory.Item{SKU: it.SKU, Quantity: it.Quantity}
	}
	// The catalogue may be briefly away (a restart): ride through it, within the budget.
	var q inventory.Quote
	err := retry.Within(ctx, retry.Budget, func(err error) bool { return errors.Is(err, httpx.ErrUnavailable) },
		func() (err error) {
			q, err = s.catalog.Quote(ctx, items)
			return err
		})
	if err != nil {
		return saga.OrderInput{}, fmt.Errorf("price the order: %w", err)
	}
	in := saga.OrderInput{
		Order: saga.Order{
			OrderID: orderID, CustomerID: req.CustomerID, TotalCents: q.TotalCents, Currency: q.Currency,
			PaymentMethod: req.PaymentMethod, ShippingAddress: req.ShippingAddress, CouponCode: req.CouponCode,
		},
		Policy:   s.cfg.Policy,
		TraceID:  telemetry.TraceID(ctx),
		Revision: saga.Revision,
	}
	for _, it := range q.Items {
		in.Items = append(in.Items, saga.Item{SKU: it.SKU, Quantity: it.Quantity, UnitPriceCents: it.UnitPriceCents})
	}
	return in, nil
}
