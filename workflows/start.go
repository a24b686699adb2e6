package workflows

import (
	"crypto/rand"
	"encoding/hex"

	"github.com/ordersaga/ordersaga/saga"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
)

// StartOptions returns the options to start an order's workflow with: its ID
// ("order-<orderId>", never reused, so an order ID places at most one order), its search
// attributes, and the summary and details the Web UI shows. memo may be nil.
func StartOptions(in saga.OrderInput, taskQueue string, memo map[string]any) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                       saga.WorkflowID(in.OrderID),
		TaskQueue:                taskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		// Report a second start of the same order as an error, rather than quietly
		// returning the first run: the API must compare the two requests.
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes:                    saga.SearchAttributes(in),
		Memo:                                     memo,
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
