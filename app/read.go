package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/api/serviceerror"

	"github.com/ordersaga/ordersaga/domain"
	"github.com/ordersaga/ordersaga/saga"
	"github.com/ordersaga/ordersaga/services/order"
	"github.com/ordersaga/ordersaga/workflows"
)

// Where an order's view comes from, and how fresh it is:
//
//   - Get: the read model, the order service's copy of the order with the saga's view of
//     it (steps, attempts, failure, events), which the workflow writes at every status
//     change, in the same workflow task. It lags the workflow by at most the steps since
//     the last status change (the attempts of a step that is running), and costs one read
//     of the order service: no Temporal call, no worker.
//   - Get, before the saga's first step has written the order (a moment after it was
//     placed, longer when workers are busy): the order as placed, PENDING, from the
//     workflow's input and search attributes, served by the Temporal server alone.
//   - GetLive: the workflow's status query, exact to the step, at the price of a round
//     trip through a worker; the read model when the workflow cannot answer.
//   - Await: the read model, each time a workflow task completes, found by long-polling
//     the workflow's history on the Temporal server: waiting costs the workflow nothing.

// Get returns an order's view from the read model, or from Temporal's history when the
// order service does not have the order yet. It returns ErrOrderNotFound, or an error
// wrapping httpx.ErrUnavailable.
func (s *Service) Get(ctx context.Context, orderID string) (OrderView, error) {
	if !domain.ID(orderID).Valid() {
		return OrderView{}, fmt.Errorf("%w: %q", ErrOrderNotFound, orderID)
	}
	o, err := s.orders.Get(ctx, orderID)
	switch {
	case err == nil:
		return s.viewOf(stateOf(o)), nil
	case !errors.Is(err, order.ErrNotFound):
		return OrderView{}, err
	}
	return s.placedView(ctx, orderID)
}

// placedView is the order as its workflow was started, with the status its search
// attribute holds: the view of an order the order service does not know (yet).
func (s *Service) placedView(ctx context.Context, orderID string) (OrderView, error) {
	x, err := s.sagas.Describe(ctx, orderID)
	if err != nil {
		return OrderView{}, fromTemporal(orderID, err)
	}
	in, err := s.sagas.Input(ctx, orderID, x.RunID)
	if err != nil {
		return OrderView{}, fromTemporal(orderID, err)
	}
	st := initialState(in, x.RunID, x.StartTime)
	if x.OrderStatus != "" {
		st.Status = x.OrderStatus
	}
	if !x.Running && !st.Status.Final() {
		// Closed before it said how (terminated, say): report the execution's status.
		st.Status = saga.OrderStatus(x.Status)
	}
	return s.viewOf(st), nil
}

// GetLive asks the order's workflow for its state (a round trip through a worker), and
// falls back to the read model when the workflow cannot answer.
func (s *Service) GetLive(ctx context.Context, orderID string) (OrderView, error) {
	if !domain.ID(orderID).Valid() {
		return OrderView{}, fmt.Errorf("%w: %q", ErrOrderNotFound, orderID)
	}
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := s.sagas.Query(qctx, orderID)
	switch {
	case err == nil:
		return s.viewOf(st), nil
	case errors.As(err, new(*serviceerror.NotFound)):
		// No workflow (never, or past retention): the order service may still know it.
		o, oerr := s.orders.Get(ctx, orderID)
		if oerr != nil {
			return OrderView{}, fmt.Errorf("%w: %s", ErrOrderNotFound, orderID)
		}
		return s.viewOf(stateOf(o)), nil
	}
	s.log.WarnContext(ctx, "answering from the read model: the workflow did not answer", "orderId", orderID, "error", err)
	return s.Get(ctx, orderID)
}

// Await returns the order's view once it is settled (final, awaiting approval or needing
// attention), or the latest one when d (at most MaxWait) has passed. It long-polls the
// workflow's history on the Temporal server and reads the read model each time a
// workflow task completes (the saga writes it within the task), so that waiting costs
// the workflow no update and no worker round trip. Besides Get's errors, it returns a
// *validate.Error for a wait out of bounds.
func (s *Service) Await(ctx context.Context, orderID string, d time.Duration) (OrderView, error) {
	if err := checkWait(d); err != nil {
		return OrderView{}, err
	}
	view, err := s.Get(ctx, orderID)
	if err != nil || view.Status.Settled() {
		return view, err
	}
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var token []byte
	for {
		next, moved, err := s.sagas.Watch(wctx, orderID, view.RunID, token)
		if moved || errors.Is(err, workflows.ErrHistoryEnded) {
			if v, gerr := s.Get(ctx, orderID); gerr == nil {
				view = v
			}
		}
		if err != nil || view.Status.Settled() {
			return view, nil // settled, closed, or the wait ended: answer what is known
		}
		token = next
	}
}

// OrderList is a page of orders, newest first.
type OrderList struct {
	Orders     []OrderView `json:"orders"`
	NextCursor string      `json:"nextCursor,omitempty"`
}

// List returns a page of orders from the read model, each as Get shows it. It returns a
// *validate.Error for an invalid query.
func (s *Service) List(ctx context.Context, q order.ListQuery) (OrderList, error) {
	page, err := s.orders.List(ctx, q)
	if err != nil {
		return OrderList{}, err
	}
	out := OrderList{Orders: make([]OrderView, len(page.Orders)), NextCursor: page.NextCursor}
	for i, o := range page.Orders {
		out.Orders[i] = s.viewOf(stateOf(o))
	}
	return out, nil
}

// stateOf is the order as the read model holds it: the saga's view of it, as the workflow
// last wrote it to the order service, with the order service's own status when that is
// further along (the final status, recorded by the last step, before the saga's final
// view arrives). Before the saga's first view, the steps are derived from the status.
func stateOf(o order.Order) saga.OrderState {
	var st saga.OrderState
	if len(o.State) > 0 && json.Unmarshal(o.State, &st) == nil && st.OrderID == o.OrderID {
		if status := saga.OrderStatus(o.Status); status.Final() && !st.Status.Final() {
			st.Status = status
			st.Failure = failureOf(o)
		}
		return st
	}
	st = saga.OrderState{
		OrderID: o.OrderID, CustomerID: o.CustomerID, TotalCents: o.TotalCents, Currency: o.Currency,
		Status: saga.OrderStatus(o.Status), WorkflowID: saga.WorkflowID(o.OrderID),
		Version: o.Version, CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt, Failure: failureOf(o),
	}
	for _, it := range o.Items {
		st.Items = append(st.Items, saga.Item{SKU: it.SKU, Quantity: it.Quantity, UnitPriceCents: it.UnitPriceCents})
	}
	for _, step := range saga.Steps {
		status := saga.StepPending
		if step == saga.StepCreateOrder && !o.Tombstone {
			status = saga.StepCompleted // the order service has the order
		}
		st.Steps = append(st.Steps, saga.StepState{Name: step, Status: status})
	}
	return st
}

func failureOf(o order.Order) *saga.Failure {
	if o.ErrorType == "" {
		return nil
	}
	return &saga.Failure{Step: saga.Step(o.FailedStep), Type: o.ErrorType, Message: o.Reason}
}
