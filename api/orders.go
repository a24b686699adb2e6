package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/ordersaga/ordersaga/internal/httpx"
	"github.com/ordersaga/ordersaga/services/inventory"
	"github.com/ordersaga/ordersaga/services/order"
	"github.com/ordersaga/ordersaga/workflows"
)

// PlaceOrderRequest is the body of POST /v1/orders.
type PlaceOrderRequest struct {
	// OrderID is optional; without it, one is derived from the Idempotency-Key, or made up.
	OrderID         string            `json:"orderId,omitempty"`
	CustomerID      string            `json:"customerId"`
	Items           []ItemRequest     `json:"items"`
	PaymentMethod   string            `json:"paymentMethod"`
	ShippingAddress workflows.Address `json:"shippingAddress"`
}

// ItemRequest is an order line as the customer asks for it; prices come from the catalogue.
type ItemRequest struct {
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
}

// Memo keys stored on an order's workflow.
const (
	memoRequestHash    = "requestHash"
	memoIdempotencyKey = "idempotencyKey"
)

func (r PlaceOrderRequest) validate() error {
	var v httpx.Validator
	v.Check(r.OrderID == "" || httpx.ValidID(r.OrderID), "orderId", "must be an ID (letters, digits, -_.:)")
	v.Check(httpx.ValidID(r.CustomerID), "customerId", "must be an ID (letters, digits, -_.:)")
	v.Check(len(r.Items) > 0 && len(r.Items) <= 100, "items", "must have 1 to 100 entries")
	seen := map[string]bool{}
	for i, it := range r.Items {
		v.Checkf(httpx.ValidID(it.SKU), "must be a SKU (letters, digits, -_.:)", "items[%d].sku", i)
		v.Checkf(it.Quantity > 0 && it.Quantity <= 10000, "must be between 1 and 10000", "items[%d].quantity", i)
		v.Checkf(!seen[it.SKU], "appears twice", "items[%d].sku", i)
		seen[it.SKU] = true
	}
	v.Text("paymentMethod", r.PaymentMethod, true, 100)
	a := r.ShippingAddress
	v.Text("shippingAddress.name", a.Name, true, 200)
	v.Text("shippingAddress.line1", a.Line1, true, 200)
	v.Text("shippingAddress.city", a.City, true, 200)
	v.Text("shippingAddress.postalCode", a.PostalCode, true, 200)
	v.Check(httpx.ValidCountry(a.Country), "shippingAddress.country", "must be two uppercase letters (ISO 3166-1 alpha-2)")
	return v.Err()
}

// hash identifies the request's content, to tell a replay from a different request.
func (r PlaceOrderRequest) hash() string {
	b, _ := json.Marshal(r) // a struct of strings and ints always marshals
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// placeOrder starts an order's saga: POST /v1/orders.
//
// The order ID is the body's, or derived from the Idempotency-Key, or new. Its workflow ID
// is never reused, so a repeated request finds the first order: same body → 200 with it;
// a different body → 422 (same key) or 409 (same order ID). New orders answer 202.
func (s *server) placeOrder(c *gin.Context) {
	ctx := c.Request.Context()
	var req PlaceOrderRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		_ = c.Error(err)
		return
	}
	key := c.GetHeader("Idempotency-Key")
	wait, err := parseWait(c.Query("wait"))
	if err == nil {
		err = req.validate()
	}
	switch {
	case err != nil:
	case len(key) > 255:
		err = httpx.Invalid("Idempotency-Key", "must be at most 255 characters")
	case key != "" && req.OrderID != "":
		err = httpx.Invalid("Idempotency-Key", "send an Idempotency-Key or a body orderId, not both: an order ID is itself an idempotency key")
	}
	if err != nil {
		_ = c.Error(err)
		return
	}
	orderID := req.OrderID
	switch {
	case orderID != "":
	case key != "":
		sum := sha256.Sum256([]byte("idempotency-key:" + key))
		orderID = "ord-" + hex.EncodeToString(sum[:12])
	default:
		orderID = workflows.NewOrderID()
	}

	in, err := s.priceOrder(ctx, orderID, req)
	if err != nil {
		_ = c.Error(err)
		return
	}
	hash := req.hash()
	memo := map[string]any{memoRequestHash: hash}
	if key != "" {
		memo[memoIdempotencyKey] = key
	}
	created := true
	run, err := s.deps.Temporal.ExecuteWorkflow(ctx, workflows.StartOptions(in, s.cfg.TaskQueue, memo), workflows.WorkflowType, in)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	switch {
	case errors.As(err, &started):
		created = false
		if err := s.checkReplay(ctx, orderID, hash, key != ""); err != nil {
			_ = c.Error(err)
			return
		}
	case err != nil:
		_ = c.Error(fromTemporal(orderID, err))
		return
	}
	s.metrics().placed(created)

	var view OrderView
	switch {
	case wait > 0:
		view, err = s.waitSettled(ctx, orderID, wait)
	case created:
		view = s.viewOf(initialState(in, run.GetRunID(), time.Now())) // no round trip: nothing has happened yet
	default:
		view, err = s.view(ctx, orderID)
	}
	if err != nil {
		_ = c.Error(err)
		return
	}
	c.Header("Location", "/v1/orders/"+orderID)
	if created {
		c.JSON(http.StatusAccepted, view)
		return
	}
	c.JSON(http.StatusOK, view)
}

// priceOrder builds the workflow input, with prices from the catalogue.
func (s *server) priceOrder(ctx context.Context, orderID string, req PlaceOrderRequest) (workflows.OrderInput, error) {
	items := make([]inventory.Item, len(req.Items))
	for i, it := range req.Items {
		items[i] = inventory.Item{SKU: it.SKU, Quantity: it.Quantity}
	}
	q, err := s.deps.Catalog.Quote(ctx, items)
	if err != nil {
		return workflows.OrderInput{}, fmt.Errorf("price the order: %w", err)
	}
	in := workflows.OrderInput{
		Order: workflows.Order{
			OrderID: orderID, CustomerID: req.CustomerID, TotalCents: q.TotalCents, Currency: q.Currency,
			PaymentMethod: req.PaymentMethod, ShippingAddress: req.ShippingAddress,
		},
		Policy: s.cfg.Policy,
	}
	for _, it := range q.Items {
		in.Items = append(in.Items, workflows.Item{SKU: it.SKU, Quantity: it.Quantity, UnitPriceCents: it.UnitPriceCents})
	}
	return in, nil
}

// checkReplay compares a repeated request with the one that started the order.
func (s *server) checkReplay(ctx context.Context, orderID, hash string, byKey bool) error {
	desc, err := s.deps.Temporal.DescribeWorkflowExecution(ctx, workflows.WorkflowID(orderID), "")
	if err != nil {
		return fromTemporal(orderID, err)
	}
	var stored string
	if p := desc.GetWorkflowExecutionInfo().GetMemo().GetFields()[memoRequestHash]; p != nil {
		_ = json.Unmarshal(p.GetData(), &stored)
	}
	switch {
	case stored == hash:
		return nil
	case byKey:
		return fmt.Errorf("%w: order %s was placed with this key", ErrKeyReused, orderID)
	}
	return fmt.Errorf("%w: %s", ErrOrderExists, orderID)
}

// parseWait reads ?wait=: a duration ("10s") or a number of seconds, at most MaxWait.
func parseWait(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		n, nerr := strconv.ParseFloat(s, 64)
		if nerr != nil {
			return 0, httpx.Invalid("wait", "must be a duration such as 10s")
		}
		d = time.Duration(n * float64(time.Second))
	}
	if d < 0 || d > MaxWait {
		return 0, httpx.Invalid("wait", "must be between 0s and 30s")
	}
	return d, nil
}

// getOrder answers GET /v1/orders/{orderId}.
func (s *server) getOrder(c *gin.Context) {
	view, err := s.view(c.Request.Context(), c.Param("orderId"))
	httpx.Respond(c, http.StatusOK, view, err)
}

// view returns an order from its workflow's status query or, when the workflow cannot
// answer (gone past retention, or no worker to replay it), from the order service.
func (s *server) view(ctx context.Context, orderID string) (OrderView, error) {
	if !httpx.ValidID(orderID) {
		return OrderView{}, fmt.Errorf("%w: %q", ErrOrderNotFound, orderID)
	}
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	val, qerr := s.deps.Temporal.QueryWorkflow(qctx, workflows.WorkflowID(orderID), "", workflows.QueryStatus)
	if qerr == nil {
		var st workflows.OrderState
		if err := val.Get(&st); err != nil {
			return OrderView{}, fmt.Errorf("decode the status of order %s: %w", orderID, err)
		}
		return s.viewOf(st), nil
	}
	o, err := s.deps.Orders.Get(ctx, orderID)
	switch {
	case err == nil:
		s.log.WarnContext(ctx, "answering from the order service: the workflow did not answer", "orderId", orderID, "error", qerr)
		return s.viewOf(stateOf(o)), nil
	case errors.Is(err, order.ErrNotFound):
		if errors.As(qerr, new(*serviceerror.NotFound)) {
			return OrderView{}, fmt.Errorf("%w: %s", ErrOrderNotFound, orderID)
		}
	}
	return OrderView{}, fromTemporal(orderID, qerr)
}

// waitSettled waits up to d for the order to settle (final, awaiting approval or needing
// attention), with the workflow's wait-settled update, and returns its view.
func (s *server) waitSettled(ctx context.Context, orderID string, d time.Duration) (OrderView, error) {
	st, err := s.update(ctx, orderID, workflows.UpdateWaitSettled, workflows.Duration(d), d+10*time.Second)
	if err != nil {
		// A closed workflow takes no updates: its query still answers.
		return s.view(ctx, orderID)
	}
	return s.viewOf(st), nil
}

// update sends an update to the order's workflow and waits for its result. A closed
// workflow refuses with ErrInvalidState naming the order's final status.
func (s *server) update(ctx context.Context, orderID, name string, arg any, timeout time.Duration) (workflows.OrderState, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var st workflows.OrderState
	h, err := s.deps.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   workflows.WorkflowID(orderID),
		UpdateName:   name,
		Args:         []any{arg},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		err = h.Get(ctx, &st)
	}
	if errors.As(err, new(*serviceerror.NotFound)) {
		// Either no such order, or its workflow has closed.
		if o, gerr := s.deps.Orders.Get(ctx, orderID); gerr == nil {
			return st, fmt.Errorf("%w: order %s is already %s", ErrInvalidState, orderID, o.Status)
		}
	}
	return st, fromTemporal(orderID, err)
}

// DecisionRequest is the optional body of cancel and the operator actions.
type DecisionRequest struct {
	By   string `json:"by,omitempty"`
	Note string `json:"note,omitempty"`
}

func (r DecisionRequest) validate(noteRequired bool) error {
	var v httpx.Validator
	v.Text("by", r.By, false, 100)
	v.Text("note", r.Note, noteRequired, 1000)
	return v.Err()
}

// cancelOrder answers POST /v1/orders/{orderId}/cancel: 202 while the saga unwinds, 409
// past the point of no return.
func (s *server) cancelOrder(c *gin.Context) {
	var req DecisionRequest
	if err := httpx.BindOptionalJSON(c, &req); err != nil {
		_ = c.Error(err)
		return
	}
	if err := req.validate(false); err != nil {
		_ = c.Error(err)
		return
	}
	if req.By == "" {
		req.By = "customer"
	}
	orderID := c.Param("orderId")
	st, err := s.update(c.Request.Context(), orderID, workflows.UpdateCancel, workflows.Decision(req), 10*time.Second)
	if err != nil {
		_ = c.Error(err)
		return
	}
	c.JSON(http.StatusAccepted, s.viewOf(st))
}

// decide returns the handler of an operator action (approve, reject, retry-compensations,
// resolve-manually), sent to the workflow as the update of that name.
func (s *server) decide(update string) gin.HandlerFunc {
	return func(c *gin.Context) {
		var req DecisionRequest
		if err := httpx.BindOptionalJSON(c, &req); err != nil {
			_ = c.Error(err)
			return
		}
		if err := req.validate(update == workflows.UpdateResolveManually); err != nil {
			_ = c.Error(err)
			return
		}
		if req.By == "" {
			req.By = "operator"
		}
		st, err := s.update(c.Request.Context(), c.Param("orderId"), update, workflows.Decision(req), 10*time.Second)
		if err != nil {
			_ = c.Error(err)
			return
		}
		c.JSON(http.StatusOK, s.viewOf(st))
	}
}

// OrderList is the body of GET /v1/orders.
type OrderList struct {
	Orders     []OrderView `json:"orders"`
	NextCursor string      `json:"nextCursor,omitempty"`
}

// listOrders answers GET /v1/orders?customerId=&status=&limit=&cursor=, newest first,
// from the order service.
func (s *server) listOrders(c *gin.Context) {
	q := order.ListQuery{CustomerID: c.Query("customerId"), Status: order.Status(strings.ToUpper(c.Query("status"))), Cursor: c.Query("cursor")}
	if l, ok := c.GetQuery("limit"); ok {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > order.MaxLimit {
			_ = c.Error(httpx.Invalid("limit", "must be between 1 and 100"))
			return
		}
		q.Limit = n
	}
	page, err := s.deps.Orders.List(c.Request.Context(), q)
	if err != nil {
		_ = c.Error(err)
		return
	}
	out := OrderList{Orders: make([]OrderView, len(page.Orders)), NextCursor: page.NextCursor}
	for i, o := range page.Orders {
		out.Orders[i] = s.viewOf(stateOf(o))
	}
	c.JSON(http.StatusOK, out)
}

// listProducts answers GET /v1/products.
func (s *server) listProducts(c *gin.Context) {
	ps, err := s.deps.Catalog.Products(c.Request.Context())
	if err != nil {
		_ = c.Error(err)
		return
	}
	c.JSON(http.StatusOK, inventory.ProductList{Products: ps})
}

// upsertProduct answers PUT /v1/products/{sku} (operators): create or restock.
func (s *server) upsertProduct(c *gin.Context) {
	var req inventory.ProductUpdate
	if err := httpx.BindJSON(c, &req); err != nil {
		_ = c.Error(err)
		return
	}
	p, err := s.deps.Catalog.UpsertProduct(c.Request.Context(), c.Param("sku"), req)
	httpx.Respond(c, http.StatusOK, p, err)
}
