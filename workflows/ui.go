package workflows

import (
	"fmt"
	"strings"

	"github.com/ordersaga/ordersaga/internal/money"
	"github.com/ordersaga/ordersaga/saga"
)

// What operators see in the Temporal Web UI and `temporal workflow describe`: readable
// activity IDs, a summary on every activity and timer, a static summary and details on the
// workflow, and the current progress as a markdown table.

var stepActivityIDs = map[saga.Step]string{
	saga.StepCreateOrder:      "create-order",
	saga.StepReserveInventory: "reserve-inventory",
	saga.StepRedeemCoupon:     "redeem-coupon",
	saga.StepChargePayment:    "charge-payment",
	saga.StepScheduleShipping: "schedule-shipping",
	saga.StepConfirmOrder:     "confirm-order",
}

var compensationActivityIDs = map[saga.Step]string{
	saga.StepCreateOrder:      "cancel-order",
	saga.StepReserveInventory: "release-inventory",
	saga.StepRedeemCoupon:     "restore-coupon",
	saga.StepChargePayment:    "refund-payment",
	saga.StepScheduleShipping: "cancel-shipment",
}

func activityID(step saga.Step) string { return stepActivityIDs[step] }

// compensationID names a compensation's activity: "refund-payment" for its first run,
// "refund-payment-2" when an operator has it run again.
func compensationID(step saga.Step, run int) string {
	if run > 1 {
		return fmt.Sprintf("%s-%d", compensationActivityIDs[step], run)
	}
	return compensationActivityIDs[step]
}

// summary is the one-line summary of a forward step's activity.
func (o *order) summary(step saga.Step) string {
	in := o.in
	total := money.Format(o.state.TotalCents, in.Currency)
	switch step {
	case saga.StepCreateOrder:
		return fmt.Sprintf("Record order %s for %s: %s, %s", in.OrderID, in.CustomerID, itemsText(in.Items),
			money.Format(in.TotalCents, in.Currency))
	case saga.StepReserveInventory:
		return "Reserve " + itemsText(in.Items)
	case saga.StepRedeemCoupon:
		return fmt.Sprintf("Redeem %s for %s on %s", in.CouponCode, in.CustomerID, money.Format(in.TotalCents, in.Currency))
	case saga.StepChargePayment:
		return fmt.Sprintf("Charge %s to %s (%s)", total, in.CustomerID, in.PaymentMethod)
	case saga.StepScheduleShipping:
		a := in.ShippingAddress
		return fmt.Sprintf("Schedule shipping to %s, %s %s", a.City, a.PostalCode, a.Country)
	case saga.StepConfirmOrder:
		return "Confirm order " + in.OrderID + " (point of no return)"
	}
	return string(step)
}

// compensationSummary is the one-line summary of a step's compensation activity.
func (o *order) compensationSummary(step saga.Step) string {
	in := o.in
	switch step {
	case saga.StepCreateOrder:
		if f := o.state.Failure; f != nil {
			return fmt.Sprintf("Reject order %s (%s at %s)", in.OrderID, f.Type, f.Step)
		}
		return "Cancel order " + in.OrderID
	case saga.StepReserveInventory:
		return "Release " + itemsText(in.Items)
	case saga.StepRedeemCoupon:
		return fmt.Sprintf("Restore coupon %s for %s", in.CouponCode, in.CustomerID)
	case saga.StepChargePayment:
		return fmt.Sprintf("Refund %s to %s", money.Format(o.state.TotalCents, in.Currency), in.CustomerID)
	case saga.StepScheduleShipping:
		return "Cancel shipment of order " + in.OrderID
	}
	return "Undo " + string(step)
}

// StaticSummary is the workflow's one-line summary, set when it starts.
func StaticSummary(in saga.OrderInput) string {
	return fmt.Sprintf("Order %s: %s for %s, %s", in.OrderID, money.Format(in.TotalCents, in.Currency),
		in.CustomerID, itemsText(in.Items))
}

// StaticDetails is the workflow's markdown details, set when it starts.
func StaticDetails(in saga.OrderInput) string {
	var b strings.Builder
	printf(&b, "**Order** `%s` · **customer** `%s` · **total** %s", in.OrderID, in.CustomerID,
		money.Format(in.TotalCents, in.Currency))
	if in.CouponCode != "" {
		printf(&b, " · **coupon** `%s`", in.CouponCode)
	}
	b.WriteString("\n\n")
	b.WriteString("| SKU | qty | unit price | line total |\n|---|---:|---:|---:|\n")
	for _, it := range in.Items {
		printf(&b, "| %s | %d | %s | %s |\n", it.SKU, it.Quantity, money.Format(it.UnitPriceCents, in.Currency),
			money.Format(it.UnitPriceCents*int64(it.Quantity), in.Currency))
	}
	a := in.ShippingAddress
	printf(&b, "\n**Payment** `%s` · **ship to** %s, %s, %s %s %s\n", in.PaymentMethod, a.Name, a.Line1,
		a.PostalCode, a.City, a.Country)
	return b.String()
}

// progressMarkdown renders the state as the workflow's current details.
func progressMarkdown(s *saga.OrderState) string {
	var b strings.Builder
	printf(&b, "**Status: %s**\n\n| step | status | attempts | detail |\n|---|---|---:|---|\n", s.Status)
	for _, st := range s.Steps {
		detail := st.Detail
		if st.Error != nil {
			detail = st.Error.Type + ": " + st.Error.Message
		}
		if c := st.Compensation; c != nil {
			switch {
			case c.Error != nil:
				detail += "; undo failed: " + c.Error.Message
			case c.Detail != "":
				detail += "; undone: " + c.Detail
			}
		}
		printf(&b, "| %s | %s | %d | %s |\n", st.Name, st.Status, st.Attempts, strings.ReplaceAll(detail, "|", "/"))
	}
	if f := s.Failure; f != nil {
		printf(&b, "\n**Failed at %s:** %s (%s)\n", f.Step, f.Message, f.Type)
	}
	if a := s.Attention; a != nil {
		printf(&b, "\n**Needs attention:** compensation of %s failed: %s. Signal `retry-compensations` "+
			"after fixing the cause, or `resolve-manually` with a note.\n", a.Step, a.Error.Message)
	}
	return b.String()
}

// itemsText is "2× SKU-BOOK, 1× SKU-MUG".
func itemsText(items []saga.Item) string {
	parts := make([]string, len(items))
	for i, it := range items {
		parts[i] = fmt.Sprintf("%d× %s", it.Quantity, it.SKU)
	}
	return strings.Join(parts, ", ")
}

// printf appends to b. (Not fmt.Fprintf: workflowcheck follows its internals into the
// runtime and reports it as non-deterministic, while it accepts fmt.Sprintf.)
func printf(b *strings.Builder, format string, args ...any) {
	b.WriteString(fmt.Sprintf(format, args...))
}
