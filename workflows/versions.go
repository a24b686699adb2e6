package workflows

import (
	"math"

	"go.temporal.io/sdk/workflow"
)

// Changes to OrderWorkflow that orders already running must survive. Orders live for up to
// a day awaiting approval, and longer in NEEDS_ATTENTION, so a new worker build replays
// histories that older code wrote. Each change below is taken only by executions that
// reach it for the first time on code that knows it (workflow.GetVersion records that in
// the history, as a marker and the TemporalChangeVersion search attribute); replayed
// histories written before it keep the old path. The replay test over
// testdata/histories holds the old paths to this.
//
// A change whose switch travels in the order's input needs no change ID: the input is the
// history's first event, so a replay takes the path its order was placed with. The
// status mirror (saga.Policy.StatusMirror) is one: orders placed before it existed carry
// no value and mirror every status, as they did.
//
// Revisions fold changes into the input, so that new orders stop paying for the markers
// (each GetVersion that takes a new path records a marker event and a
// TemporalChangeVersion search attribute upsert, a visibility write). An order placed
// under saga.Revision r takes every change whose revision (revisionOf) is at most r
// without asking the history; an order placed earlier (Revision 0) still asks. Replaying
// either kind of order gives what it did: the input is in the history, and a replay over
// a version marker that the code no longer asks about skips it. A new change starts with
// a GetVersion of its own; once every worker runs it, the next revision may include it.
//
// A change ID can be removed, keeping only its new path, once no execution that took the
// old path is still open (`temporal workflow count --query 'ExecutionStatus="Running"
// AND StartTime < "<release time>"'`).
const (
	// changeRetriedRefusalCompensated: a business rejection after a retried attempt
	// registers the step's compensation, since the earlier attempt may have landed late.
	changeRetriedRefusalCompensated = "retried-refusal-compensated"
	// changeDuplicateNotCompensated: a step refused with IdempotencyConflict or
	// AlreadyCompensated registers no compensation (it would undo another order's work).
	changeDuplicateNotCompensated = "duplicate-not-compensated"
	// changeFreeOrdersSkipCharge: an order whose total is zero skips ChargePayment.
	changeFreeOrdersSkipCharge = "free-orders-skip-charge"
	// changeFinalStatusMirrored: the final status and the saga's last view of the order
	// are written to the order service (the read model) before the workflow closes.
	changeFinalStatusMirrored = "final-status-mirrored"
)

// Revisions whose change is a path of its own, taken by orders of that revision on.
const (
	// revisionCoupons: an order may carry a coupon, redeemed by RedeemCoupon after the
	// reservation (and restored by RestoreCoupon); the approval and the charge then
	// apply to the discounted total.
	revisionCoupons = 2
	// revisionConfirmCarriesState: ConfirmOrderWithState completes the order and hands
	// the order service the saga's final view in one call; the final SyncOrderStatus
	// runs only when the confirm was retried (the view it carried counted one attempt).
	revisionConfirmCarriesState = 3
)

// revisionOf is the first order revision that includes change id: orders of that
// revision or later take it without a marker.
func revisionOf(id string) int {
	switch id {
	case changeRetriedRefusalCompensated, changeDuplicateNotCompensated,
		changeFreeOrdersSkipCharge, changeFinalStatusMirrored:
		return 1
	}
	return math.MaxInt // not included in a revision yet: ask the history
}

// changed reports whether this execution takes the new path of change id.
func (o *order) changed(ctx workflow.Context, id string) bool {
	if o.in.Revision >= revisionOf(id) {
		return true
	}
	return workflow.GetVersion(ctx, id, workflow.DefaultVersion, 1) == 1
}
