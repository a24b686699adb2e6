package workflows

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/ordersaga/ordersaga/saga"
)

// Client is how the application layer reaches orders' workflows: it starts them, reads
// what the Temporal server knows of them, queries and updates them, and watches their
// histories. It speaks in the saga's terms and returns the Temporal client's errors as
// they are (serviceerror.NotFound, WorkflowExecutionAlreadyStarted, ...), for the caller
// to map once.
type Client struct {
	tc        client.Client
	namespace string
	taskQueue string
	dc        converter.DataConverter
}

// NewClient returns a Client over tc for orders on taskQueue in namespace. dc must be the
// data converter tc was built with (nil: the SDK's default).
func NewClient(tc client.Client, namespace, taskQueue string, dc converter.DataConverter) *Client {
	if dc == nil {
		dc = converter.GetDefaultDataConverter()
	}
	return &Client{tc: tc, namespace: namespace, taskQueue: taskQueue, dc: dc}
}

// Placement identifies the request that placed an order, kept in its workflow's memo, so
// that a repeated request can be told from a different one.
type Placement struct {
	// RequestHash identifies the request's content.
	RequestHash string `json:"requestHash"`
	// IdempotencyKey is the request's Idempotency-Key, if any.
	IdempotencyKey string `json:"idempotencyKey,omitempty"`
}

// Memo keys of an order's workflow.
const (
	memoRequestHash    = "requestHash"
	memoIdempotencyKey = "idempotencyKey"
)

func (p Placement) memo() map[string]any {
	m := map[string]any{memoRequestHash: p.RequestHash}
	if p.IdempotencyKey != "" {
		m[memoIdempotencyKey] = p.IdempotencyKey
	}
	return m
}

// StartOptions returns the options to start an order's workflow with: its ID
// ("order-<orderId>", never reused, so an order ID places at most one order), its search
// attributes, the summary and details the Web UI shows, and the placement's memo.
func StartOptions(in saga.OrderInput, taskQueue string, p Placement) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                       saga.WorkflowID(in.OrderID),
		TaskQueue:                taskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		// Report a second start of the same order as an error, rather than quietly
		// returning the first run: the caller must compare the two requests.
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes:                    saga.SearchAttributes(in),
		Memo:                                     p.memo(),
		StaticSummary:                            StaticSummary(in),
		StaticDetails:                            StaticDetails(in),
	}
}

// NewOrderID returns a new random order ID, "ord-" and 20 hex digits. (For clients: never
// call it from workflow code.)
func NewOrderID() string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	return "ord-" + hex.EncodeToString(b)
}

// Start starts an order's saga and returns its run ID. A second start of the same order
// fails with *serviceerror.WorkflowExecutionAlreadyStarted.
func (c *Client) Start(ctx context.Context, in saga.OrderInput, p Placement) (string, error) {
	run, err := c.tc.ExecuteWorkflow(ctx, StartOptions(in, c.taskQueue, p), saga.WorkflowType, in)
	if err != nil {
		return "", err
	}
	return run.GetRunID(), nil
}

// StartAndAwait starts an order's saga and waits, until ctx is done, for it to settle, in
// one request to Temporal: update-with-start sends the start and the await-settled update
// together, and the answer comes when the order settles. It returns the settled state
// (valid when err is nil), and the run ID when the start is known to have happened, also
// when err is not nil (the wait ended, say). A second start of the same order fails with
// *serviceerror.WorkflowExecutionAlreadyStarted and no run ID.
func (c *Client) StartAndAwait(ctx context.Context, in saga.OrderInput, p Placement) (saga.OrderState, string, error) {
	start := c.tc.NewWithStartWorkflowOperation(StartOptions(in, c.taskQueue, p), saga.WorkflowType, in)
	h, err := c.tc.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: start,
		UpdateOptions: client.UpdateWorkflowOptions{
			UpdateName:   saga.UpdateAwaitSettled,
			WaitForStage: client.WorkflowUpdateStageCompleted,
		},
	})
	var st saga.OrderState
	if err == nil { // the start succeeded: the update was admitted with it
		err = h.Get(ctx, &st)
	}
	// The start's result is there at once when it succeeded; otherwise the start may not
	// have reached the server, and the wait is short.
	gctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if run, serr := start.Get(gctx); serr == nil {
		return st, run.GetRunID(), err
	}
	return st, "", err
}

// Execution is what the Temporal server knows of an order's workflow without asking a
// worker.
type Execution struct {
	RunID string
	// Running is false once the workflow has closed; Status is its execution status
	// ("Running", "Completed", "Failed", "Canceled", "Terminated", ...).
	Running bool
	Status  string
	// OrderStatus is the workflow's OrderStatus search attribute.
	OrderStatus saga.OrderStatus
	StartTime   time.Time
	Placement   Placement
}

// Describe returns what the server knows of an order's latest workflow run.
func (c *Client) Describe(ctx context.Context, orderID string) (Execution, error) {
	d, err := c.tc.DescribeWorkflow(ctx, saga.WorkflowID(orderID), "")
	if err != nil {
		return Execution{}, err
	}
	info := d.RawResponse.GetWorkflowExecutionInfo()
	x := Execution{
		RunID:     info.GetExecution().GetRunId(),
		Running:   info.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING,
		Status:    info.GetStatus().String(),
		StartTime: info.GetStartTime().AsTime(),
	}
	// The memo is written through the data converter (sealed, with PAYLOAD_KEYS).
	memo := info.GetMemo().GetFields()
	if p := memo[memoRequestHash]; p != nil {
		_ = c.dc.FromPayload(p, &x.Placement.RequestHash)
	}
	if p := memo[memoIdempotencyKey]; p != nil {
		_ = c.dc.FromPayload(p, &x.Placement.IdempotencyKey)
	}
	var status string
	if p := info.GetSearchAttributes().GetIndexedFields()[saga.SearchAttrOrderStatus.GetName()]; p != nil {
		if c.dc.FromPayload(p, &status) == nil {
			x.OrderStatus = saga.OrderStatus(status)
		}
	}
	return x, nil
}

// Input returns the input an order's run was started with, from the first event of its
// history.
func (c *Client) Input(ctx context.Context, orderID, runID string) (saga.OrderInput, error) {
	hist, err := c.tc.WorkflowService().GetWorkflowExecutionHistory(ctx, &workflowservice.GetWorkflowExecutionHistoryRequest{
		Namespace:       c.namespace,
		Execution:       &commonpb.WorkflowExecution{WorkflowId: saga.WorkflowID(orderID), RunId: runID},
		MaximumPageSize: 1,
	})
	if err != nil {
		return saga.OrderInput{}, err
	}
	events := hist.GetHistory().GetEvents()
	if len(events) == 0 || events[0].GetWorkflowExecutionStartedEventAttributes() == nil {
		return saga.OrderInput{}, fmt.Errorf("order %s: the history has no start event", orderID)
	}
	var in saga.OrderInput
	if err := c.dc.FromPayloads(events[0].GetWorkflowExecutionStartedEventAttributes().GetInput(), &in); err != nil {
		return saga.OrderInput{}, fmt.Errorf("decode the input of order %s: %w", orderID, err)
	}
	return in, nil
}

// Query asks an order's workflow for its state: a round trip through a worker.
func (c *Client) Query(ctx context.Context, orderID string) (saga.OrderState, error) {
	var st saga.OrderState
	val, err := c.tc.QueryWorkflow(ctx, saga.WorkflowID(orderID), "", saga.QueryStatus)
	if err == nil {
		err = val.Get(&st)
	}
	return st, err
}

// Update sends the update name with d to an order's workflow and returns the state it
// answers with, once the update has completed.
func (c *Client) Update(ctx context.Context, orderID, name string, d saga.Decision) (saga.OrderState, error) {
	var st saga.OrderState
	h, err := c.tc.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   saga.WorkflowID(orderID),
		UpdateName:   name,
		Args:         []any{d},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		err = h.Get(ctx, &st)
	}
	return st, err
}

// ErrHistoryEnded is returned by Watch once an order's workflow has closed: its history
// grows no more.
var ErrHistoryEnded = errors.New("the workflow has closed")

// Watch waits on the Temporal server (a long poll; no worker is involved) until the
// history of an order's run grows past token (nil: from its start), and returns the next
// token and whether a workflow task completed among the new events (when the workflow's
// state may have changed). It returns ErrHistoryEnded once the workflow has closed, and
// the context's error when ctx ends first.
func (c *Client) Watch(ctx context.Context, orderID, runID string, token []byte) ([]byte, bool, error) {
	resp, err := c.tc.WorkflowService().GetWorkflowExecutionHistory(ctx, &workflowservice.GetWorkflowExecutionHistoryRequest{
		Namespace:     c.namespace,
		Execution:     &commonpb.WorkflowExecution{WorkflowId: saga.WorkflowID(orderID), RunId: runID},
		WaitNewEvent:  true,
		NextPageToken: token,
	})
	if err != nil {
		return nil, false, err
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
	if len(resp.GetNextPageToken()) == 0 {
		return nil, moved, ErrHistoryEnded
	}
	return resp.GetNextPageToken(), moved, nil
}

// CheckHealth returns nil when the Temporal frontend answers.
func (c *Client) CheckHealth(ctx context.Context) error {
	_, err := c.tc.CheckHealth(ctx, &client.CheckHealthRequest{})
	return err
}
