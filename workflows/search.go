package workflows

import "go.temporal.io/sdk/temporal"

// Search attributes of an order's workflow. They must be registered on the namespace
// (`make run`'s dev server does it; RUNBOOK.md has the command for a cluster). Clients set
// all three when they start an order, and the workflow upserts OrderStatus on every change,
// so operators can list orders with queries such as `OrderStatus = "NEEDS_ATTENTION"`.
var (
	SearchAttrOrderStatus     = temporal.NewSearchAttributeKeyKeyword("OrderStatus")
	SearchAttrCustomerID      = temporal.NewSearchAttributeKeyKeyword("CustomerId")
	SearchAttrOrderTotalCents = temporal.NewSearchAttributeKeyInt64("OrderTotalCents")
)

// SearchAttributes returns the search attributes to start an order's workflow with.
func SearchAttributes(in OrderInput) temporal.SearchAttributes {
	return temporal.NewSearchAttributes(
		SearchAttrOrderStatus.ValueSet(string(StatusPending)),
		SearchAttrCustomerID.ValueSet(in.CustomerID),
		SearchAttrOrderTotalCents.ValueSet(in.TotalCents),
	)
}
