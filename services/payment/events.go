package payment

// The payment service's domain events. The store writes each into the service's outbox
// (see internal/outbox) in the transaction that makes the change it describes, and only
// when the call changed a payment or a redemption: a replay, a refusal, a decline, a
// failed attempt of the flaky test card, a repeated refund or restore, a restore that
// leaves a tombstone, and the writes of customers and coupons write none. The one
// tombstone that is an event is a refund's VOIDED payment: it says the charge will never
// happen. An event's body is the Payment or Redemption as it stands after the change, as
// GET /payments/{orderId} or GET /coupons/redemptions/{orderId} returns it.

// service names the payment service in its events (and its migration lock).
const service = "payment"

// Event types of the payment service.
const (
	// EventPaymentCharged: Charge took the amount from the customer's balance.
	EventPaymentCharged = "PaymentCharged"
	// EventPaymentRefunded: Refund gave a charged amount back to the customer.
	EventPaymentRefunded = "PaymentRefunded"
	// EventPaymentVoided: Refund voided the payment of an order never charged (a tombstone,
	// or a charge still PENDING): the order will never be charged.
	EventPaymentVoided = "PaymentVoided"
	// EventCouponRedeemed: RedeemCoupon redeemed the customer's coupon for the order.
	EventCouponRedeemed = "CouponRedeemed"
	// EventCouponRestored: RestoreCoupon gave the order's redeemed coupon back.
	EventCouponRestored = "CouponRestored"
)

// refundEvent is the event of a payment that Refund moved to status now.
func refundEvent(status Status) string {
	if status == Refunded {
		return EventPaymentRefunded
	}
	return EventPaymentVoided
}
