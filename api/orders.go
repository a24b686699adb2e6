package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/ordersaga/ordersaga/domain"
	"github.com/ordersaga/ordersaga/internal/httpx"
	"github.com/ordersaga/ordersaga/internal/validate"
	"github.com/ordersaga/ordersaga/saga"
	"github.com/ordersaga/ordersaga/services/inventory"
	"github.com/ordersaga/ordersaga/services/order"
	"github.com/ordersaga/ordersaga/workflows"
)

// PlaceOrderRequest is the body of POST /v1/orders.
type PlaceOrderRequest struct {
	// OrderID is optional; without it, one is derived from the Idempotency-Key, or made up.
	OrderID         string        `json:"orderId,omitempty"`
	CustomerID      string        `json:"customerId"`
	Items           []ItemRequest `json:"items"`
	PaymentMethod   string        `json:"paymentMethod"`
	ShippingAddress saga.Address  `json:"shippingAddress"`
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
	return v.Err()
}

// hash identifies the request's content, to tell a replay from a different request.
func (r PlaceOrderRequest) hash() string {
	b, _ := json.Marshal(r) // a struct of strings and ints always marshals
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// sameAs reports whether o, as the order service recorded it, was placed by a request
// with r's content: the same customer, items, payment method and address.
func (r PlaceOrderRequest) sameAs(o order.Order) bool {
	if o.CustomerID != r.CustomerID || o.PaymentMethod != r.PaymentMethod ||
		o.ShippingAddress != order.Address(r.ShippingAddress) || len(o.Items) != len(r.Items) {
		return false
	}
	for _, it := range r.Items {
		if !slices.ContainsFunc(o.Items, func(oi order.Item) bool { return oi.SKU == it.SKU && oi.Quantity == it.Quantity }) {
			return false
		}
	}
	return true
}

// placeOrder starts an order's saga: POST /v1/orders.
//
// The order ID is the body's, or derived from the Idempotency-Key, or new. Its workflow ID
// is never reused, so a repeated request finds the first order: same body → 200 with it;
// a different body → 422 (same key) or 409 (same order ID). New orders answer 202.
func (s *server) placeOrder(c *gin.Context) {
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
		err = validate.Invalid("Idempotency-Key", "must be at most 255 characters")
	case key != "" && req.OrderID != "":
		err = validate.Invalid("Idempotency-Key", "send an Idempotency-Key or a body orderId, not both: an order ID is itself an idempotency key")
	}
	if err != nil {
		_ = c.Error(err)
		return
	}
	view, created, err := s.place(c.Request.Context(), req, key, wait)
	if err != nil {
		_ = c.Error(err)
		return
	}
	c.Header("Location", "/v1/orders/"+view.OrderID)
	if created {
		c.JSON(http.StatusAccepted, view)
		return
	}
	c.JSON(http.StatusOK, view)
}

// OrderIDForKey returns the ID of the order placed with an Idempotency-Key: "ord-" and 24
// hex digits of the key's SHA-256, so that the same key always finds the same order.
func OrderIDForKey(key string) string {
	sum := sha256.Sum256([]byte("idempotency-key:" + key))
	return "ord-" + hex.EncodeToString(sum[:12])
}

// place places the order req (with its Idempotency-Key, if any), waiting up to wait for it
// to settle, and reports whether this request created it. Once the order's workflow has
// started, place answers with what it knows (at least the PENDING order) and no error:
// an error after the start would invite the client to place the order again.
func (s *server) place(ctx context.Context, req PlaceOrderRequest, key string, wait time.Duration) (OrderView, bool, error) {
	orderID := req.OrderID
	switch {
	case orderID != "":
	case key != "":
		orderID = OrderIDForKey(key)
	default:
		orderID = workflows.NewOrderID()
	}
	byKey := key != ""
	if req.OrderID != "" || byKey {
		// A client-chosen ID may belong to an order whose workflow is gone (past the
		// namespace's retention): the order service still knows it.
		if view, found, err := s.pastOrder(ctx, orderID, req, byKey); found || err != nil {
			return view, false, err
		}
	}
	in, err := s.priceOrder(ctx, orderID, req)
	if err != nil {
		return OrderView{}, false, err
	}
	hash := req.hash()
	memo := map[string]any{memoRequestHash: hash}
	if byKey {
		memo[memoIdempotencyKey] = key
	}
	opts := workflows.StartOptions(in, s.cfg.TaskQueue, memo)

	var (
		view    OrderView
		started bool
	)
	if wait > 0 {
		view, started, err = s.startAndWait(ctx, in, opts, hash, byKey, wait)
	} else {
		var run client.WorkflowRun
		run, err = s.deps.Temporal.ExecuteWorkflow(ctx, opts, saga.WorkflowType, in)
		if err == nil {
			started = true
			view = s.viewOf(initialState(in, run.GetRunID(), time.Now())) // nothing has happened yet
		}
	}
	if started {
		s.metrics().placed(true)
		return view, true, nil
	}
	if !errors.As(err, new(*serviceerror.WorkflowExecutionAlreadyStarted)) {
		return OrderView{}, false, fromTemporal(orderID, err)
	}
	runID, err := s.checkReplay(ctx, orderID, hash, byKey)
	if err != nil {
		return OrderView{}, false, err
	}
	s.metrics().placed(false)
	if wait > 0 {
		view, err = s.awaitSettled(ctx, orderID, wait)
	} else {
		view, err = s.view(ctx, orderID)
	}
	if err != nil {
		// The order exists: answer what is known rather than an error that invites a retry.
		s.log.WarnContext(ctx, "answering a replay with the order as placed", "orderId", orderID, "error", err)
		view = s.viewOf(initialState(in, runID, time.Now()))
	}
	return view, false, nil
}

// pastOrder answers a request for a client-chosen order ID that the order service
// already knows: the same request again is a replay of that order (found, with its view);
// another one is ErrKeyReused or ErrOrderExists. An order the service does not know (the
// usual case) is not found. When the order service cannot answer, the check is skipped:
// the workflow's ID still refuses a live duplicate, and a saga started for an ID that an
// old order holds is refused at its first step and changes nothing.
func (s *server) pastOrder(ctx context.Context, orderID string, req PlaceOrderRequest, byKey bool) (OrderView, bool, error) {
	o, err := s.deps.Orders.Get(ctx, orderID)
	switch {
	case errors.Is(err, order.ErrNotFound):
		return OrderView{}, false, nil
	case err != nil:
		s.log.WarnContext(ctx, "could not check the order service for an earlier order", "orderId", orderID, "error", err)
		return OrderView{}, false, nil
	case o.Tombstone:
		// The saga undid this ID before its order was created; it refuses any other.
		return OrderView{}, false, replayConflict(orderID, byKey)
	case !req.sameAs(o):
		return OrderView{}, false, replayConflict(orderID, byKey)
	}
	s.metrics().placed(false)
	return s.viewOf(stateOf(o)), true, nil
}

func replayConflict(orderID string, byKey bool) error {
	if byKey {
		return fmt.Errorf("%w: order %s was placed with this key", ErrKeyReused, orderID)
	}
	return fmt.Errorf("%w: %s", ErrOrderExists, orderID)
}

// startAndWait starts the order's workflow and waits up to wait for it to settle, in one
// request to Temporal (update-with-start: the start and the await-settled update travel
// together, and the answer comes when the order settles). It reports whether the workflow
// started; when it did but the wait fails or ends first, the view is the order as placed.
// hash and byKey are the request's, to recognise the order when the start's answer is lost.
func (s *server) startAndWait(ctx context.Context, in saga.OrderInput, opts client.StartWorkflowOptions,
	hash string, byKey bool, wait time.Duration) (OrderView, bool, error) {
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	start := s.deps.Temporal.NewWithStartWorkflowOperation(opts, saga.WorkflowType, in)
	h, err := s.deps.Temporal.UpdateWithStartWorkflow(wctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: start,
		UpdateOptions: client.UpdateWorkflowOptions{
			UpdateName:   saga.UpdateAwaitSettled,
			WaitForStage: client.WorkflowUpdateStageCompleted,
		},
	})
	if errors.As(err, new(*serviceerror.WorkflowExecutionAlreadyStarted)) {
		return OrderView{}, false, err
	}
	var st saga.OrderState
	if err == nil { // the start succeeded: the update was admitted with it
		err = h.Get(wctx, &st)
	}
	// The start's result is there at once when it succeeded; otherwise the start may not
	// have reached the server, and the wait below is short.
	gctx, gcancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer gcancel()
	run, startErr := start.Get(gctx)
	if startErr != nil {
		// The start's answer was lost, or it never reached the server: ask Temporal.
		runID, cerr := s.checkReplay(ctx, in.OrderID, hash, byKey)
		if cerr != nil {
			if errors.Is(cerr, ErrOrderNotFound) {
				return OrderView{}, false, err // nothing was started
			}
			return OrderView{}, false, cerr
		}
		s.log.WarnContext(ctx, "the order started but its start's answer did not come", "orderId", in.OrderID, "error", err)
		return s.viewOf(initialState(in, runID, time.Now())), true, nil
	}
	if err != nil {
		if !errors.Is(err, context.DeadlineExceeded) {
			s.log.WarnContext(ctx, "the order started but waiting for it failed", "orderId", in.OrderID, "error", err)
		}
		return s.viewOf(initialState(in, run.GetRunID(), time.Now())), true, nil
	}
	return s.viewOf(st), true, nil
}

// priceOrder builds the workflow input, with prices from the catalogue.
func (s *server) priceOrder(ctx context.Context, orderID string, req PlaceOrderRequest) (saga.OrderInput, error) {
	items := make([]inventory.Item, len(req.Items))
	for i, it := range req.Items {
		items[i] = inventory.Item{SKU: it.SKU, Quantity: it.Quantity}
	}
	q, err := s.deps.Catalog.Quote(ctx, items)
	if err != nil {
		return saga.OrderInput{}, fmt.Errorf("price the order: %w", err)
	}
	in := saga.OrderInput{
		Order: saga.Order{
			OrderID: orderID, CustomerID: req.CustomerID, TotalCents: q.TotalCents, Currency: q.Currency,
			PaymentMethod: req.PaymentMethod, ShippingAddress: req.ShippingAddress,
		},
		Policy: s.cfg.Policy,
	}
	for _, it := range q.Items {
		in.Items = append(in.Items, saga.Item{SKU: it.SKU, Quantity: it.Quantity, UnitPriceCents: it.UnitPriceCents})
	}
	return in, nil
}

// checkReplay compares a repeated request with the one that started the order, and
// returns the order's run ID.
func (s *server) checkReplay(ctx context.Context, orderID, hash string, byKey bool) (string, error) {
	desc, err := s.deps.Temporal.DescribeWorkflowExecution(ctx, saga.WorkflowID(orderID), "")
	if err != nil {
		return "", fromTemporal(orderID, err)
	}
	info := desc.GetWorkflowExecutionInfo()
	var stored string
	if p := info.GetMemo().GetFields()[memoRequestHash]; p != nil {
		_ = json.Unmarshal(p.GetData(), &stored)
	}
	if stored != hash {
		return "", replayConflict(orderID, byKey)
	}
	return info.GetExecution().GetRunId(), nil
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
			return 0, validate.Invalid("wait", "must be a duration such as 10s")
		}
		d = time.Duration(n * float64(time.Second))
	}
	if d < 0 || d > MaxWait {
		return 0, validate.Invalid("wait", "must be between 0s and 30s")
	}
	return d, nil
}

// getOrder answers GET /v1/orders/{orderId}[?wait=10s][&live=true].
func (s *server) getOrder(c *gin.Context) {
	ctx, orderID := c.Request.Context(), c.Param("orderId")
	wait, err := parseWait(c.Query("wait"))
	if err != nil {
		_ = c.Error(err)
		return
	}
	live, err := parseBool(c.Query("live"))
	if err != nil {
		_ = c.Error(validate.Invalid("live", "must be true or false"))
		return
	}
	var view OrderView
	switch {
	case wait > 0:
		view, err = s.awaitSettled(ctx, orderID, wait)
	case live:
		view, err = s.liveView(ctx, orderID)
	default:
		view, err = s.view(ctx, orderID)
	}
	httpx.Respond(c, http.StatusOK, view, err)
}

func parseBool(s string) (bool, error) {
	if s == "" {
		return false, nil
	}
	return strconv.ParseBool(s)
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
	st, err := s.update(c.Request.Context(), orderID, saga.UpdateCancel, saga.Decision(req), 10*time.Second)
	if err != nil {
		_ = c.Error(err)
		return
	}
	c.JSON(http.StatusAccepted, s.viewOf(st))
}

// update sends an update to the order's workflow and waits for its result. A closed
// workflow refuses with ErrInvalidState naming the order's final status.
func (s *server) update(ctx context.Context, orderID, name string, arg any, timeout time.Duration) (saga.OrderState, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var st saga.OrderState
	h, err := s.deps.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   saga.WorkflowID(orderID),
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
	var v validate.Validator
	domain.By.Check(&v, "by", r.By)
	note := domain.Note
	note.Required = noteRequired
	note.Check(&v, "note", r.Note)
	return v.Err()
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
		if err := req.validate(update == saga.UpdateResolveManually); err != nil {
			_ = c.Error(err)
			return
		}
		if req.By == "" {
			req.By = "operator"
		}
		st, err := s.update(c.Request.Context(), c.Param("orderId"), update, saga.Decision(req), 10*time.Second)
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
			_ = c.Error(validate.Invalid("limit", "must be between 1 and 100"))
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
