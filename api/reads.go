package api

import (
	"context"
	"errors"
	"fmt"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/ordersaga/ordersaga/domain"
	"github.com/ordersaga/ordersaga/internal/httpx"
	"github.com/ordersaga/ordersaga/saga"
	"github.com/ordersaga/ordersaga/services/order"
)

// Where an order's view comes from, and how fresh it is:
//
//   - The read model, by default: the order service's copy of the order, with the saga's
//     view of it (steps, attempts, failure, events) that the workflow writes at every
//     status change, in the same workflow task. It lags the workflow by at most the steps
//     since the last status change (the attempts of a step that is running), and costs
//     one read of the order service: no Temporal call, no worker.
//   - Temporal's history, before the saga's first step has written the order (a moment
//     after it was placed, longer when workers are busy): the order as placed, PENDING,
//     from the workflow's input and search attributes. Served by the Temporal server
//     alone; no worker is involved.
//   - The workflow itself, with ?live=true: its status query, exact to the step, at the
//     price of a round trip through a worker. When the workflow cannot answer, the read
//     model does.
//
// Waiting (?wait=) costs the workflow nothing either: the API long-polls the workflow's
// history on the Temporal server and reads the read model whenever a workflow task
// completes.

// view returns an order's view from the read model, or from Temporal's history when the
// order service does not have the order yet.
func (s *server) view(ctx context.Context, orderID string) (OrderView, error) {
	if !domain.ID(orderID).Valid() {
		return OrderView{}, fmt.Errorf("%w: %q", ErrOrderNotFound, orderID)
	}
	o, err := s.deps.Orders.Get(ctx, orderID)
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
func (s *server) placedView(ctx context.Context, orderID string) (OrderView, error) {
	wid := saga.WorkflowID(orderID)
	desc, err := s.deps.Temporal.DescribeWorkflowExecution(ctx, wid, "")
	if err != nil {
		return OrderView{}, fromTemporal(orderID, err)
	}
	info := desc.GetWorkflowExecutionInfo()
	runID := info.GetExecution().GetRunId()
	hist, err := s.deps.Temporal.WorkflowService().GetWorkflowExecutionHistory(ctx, &workflowservice.GetWorkflowExecutionHistoryRequest{
		Namespace:       s.cfg.Namespace,
		Execution:       &commonpb.WorkflowExecution{WorkflowId: wid, RunId: runID},
		MaximumPageSize: 1,
	})
	if err != nil {
		return OrderView{}, fromTemporal(orderID, err)
	}
	events := hist.GetHistory().GetEvents()
	if len(events) == 0 || events[0].GetWorkflowExecutionStartedEventAttributes() == nil {
		return OrderView{}, fmt.Errorf("%w: order %s has no start event", httpx.ErrUnavailable, orderID)
	}
	var in saga.OrderInput
	if err := s.dataConverter().FromPayloads(events[0].GetWorkflowExecutionStartedEventAttributes().GetInput(), &in); err != nil {
		return OrderView{}, fmt.Errorf("decode the input of order %s: %w", orderID, err)
	}
	st := initialState(in, runID, info.GetStartTime().AsTime())
	var status string
	if p := info.GetSearchAttributes().GetIndexedFields()[saga.SearchAttrOrderStatus.GetName()]; p != nil {
		if s.dataConverter().FromPayload(p, &status) == nil && status != "" {
			st.Status = saga.OrderStatus(status)
		}
	}
	if info.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING && !st.Status.Final() {
		// Closed before it said how (terminated, say): report the execution's status.
		st.Status = saga.OrderStatus(info.GetStatus().String())
	}
	return s.viewOf(st), nil
}

// liveView asks the order's workflow for its state (a round trip through a worker), and
// falls back to the read model when the workflow cannot answer.
func (s *server) liveView(ctx context.Context, orderID string) (OrderView, error) {
	if !domain.ID(orderID).Valid() {
		return OrderView{}, fmt.Errorf("%w: %q", ErrOrderNotFound, orderID)
	}
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	val, qerr := s.deps.Temporal.QueryWorkflow(qctx, saga.WorkflowID(orderID), "", saga.QueryStatus)
	if qerr == nil {
		var st saga.OrderState
		if err := val.Get(&st); err != nil {
			return OrderView{}, fmt.Errorf("decode the status of order %s: %w", orderID, err)
		}
		return s.viewOf(st), nil
	}
	if errors.As(qerr, new(*serviceerror.NotFound)) {
		// No workflow (never, or past retention): the order service may still know it.
		o, err := s.deps.Orders.Get(ctx, orderID)
		if err != nil {
			return OrderView{}, fmt.Errorf("%w: %s", ErrOrderNotFound, orderID)
		}
		return s.viewOf(stateOf(o)), nil
	}
	s.log.WarnContext(ctx, "answering from the read model: the workflow did not answer", "orderId", orderID, "error", qerr)
	return s.view(ctx, orderID)
}

// awaitSettled returns the order's view once it is settled (final, awaiting approval or
// needing attention), or the latest one when d has passed. It long-polls the workflow's
// history on the Temporal server, reading the read model each time a workflow task
// completes (the saga writes it within the task), so that waiting costs the workflow no
// update and no worker round trip.
func (s *server) awaitSettled(ctx context.Context, orderID string, d time.Duration) (OrderView, error) {
	view, err := s.view(ctx, orderID)
	if err != nil || view.Status.Settled() {
		return view, err
	}
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	req := &workflowservice.GetWorkflowExecutionHistoryRequest{
		Namespace:    s.cfg.Namespace,
		Execution:    &commonpb.WorkflowExecution{WorkflowId: saga.WorkflowID(orderID), RunId: view.RunID},
		WaitNewEvent: true,
	}
	for {
		resp, err := s.deps.Temporal.WorkflowService().GetWorkflowExecutionHistory(wctx, req)
		if err != nil {
			return view, nil // the wait ended (or Temporal is away): answer what is known
		}
		moved := false
		for _, ev := range resp.GetHistory().GetEvents() {
			switch ev.GetEventType() {
			case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
				enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
				enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
				enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
				moved = true
			}
		}
		if moved {
			if v, err := s.view(ctx, orderID); err == nil {
				view = v
				if view.Status.Settled() {
					return view, nil
				}
			}
		}
		if len(resp.GetNextPageToken()) == 0 {
			return view, nil // the history is complete: the workflow has closed
		}
		req.NextPageToken = resp.GetNextPageToken()
	}
}
