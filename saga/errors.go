package saga

import (
	"errors"

	"go.temporal.io/sdk/temporal"
)

// Business rejection types. A step that fails with one of these was definitely refused by
// the service, which changed nothing: it is not retried and not compensated, and the
// order ends REJECTED with this type.
const (
	OutOfStock          = "OutOfStock"
	PaymentDeclined     = "PaymentDeclined"
	InsufficientFunds   = "InsufficientFunds"
	ShippingUnavailable = "ShippingUnavailable"
	ApprovalRejected    = "ApprovalRejected"
	ApprovalTimedOut    = "ApprovalTimedOut"
	InvalidOrder        = "InvalidOrder"
	UnknownProduct      = "UnknownProduct"
	UnknownCustomer     = "UnknownCustomer"
	// CouponUnknown: no coupon has the order's code.
	CouponUnknown = "CouponUnknown"
	// CouponAlreadyRedeemed: the customer's coupon was redeemed by another order.
	CouponAlreadyRedeemed = "CouponAlreadyRedeemed"
	// CouponExpired: the coupon's expiry has passed.
	CouponExpired = "CouponExpired"
	// CouponNotApplicable: the order's subtotal is below the coupon's minimum, or the
	// coupon belongs to another customer.
	CouponNotApplicable = "CouponNotApplicable"
)

// Other final (non-retryable) types. Retrying cannot help, but the step may have had an
// effect before, so its compensation still runs.
const (
	// AlreadyCompensated: the step arrived after its own compensation and was refused.
	AlreadyCompensated = "AlreadyCompensated"
	// IdempotencyConflict: the service holds a different request under this order ID.
	IdempotencyConflict = "IdempotencyConflict"
	// OrderCompleted: the order is past the point of no return and cannot be cancelled.
	OrderCompleted = "OrderCompleted"
	// OrderNotFound: the order service does not know the order.
	OrderNotFound = "OrderNotFound"
	// Rejected: the service refused the request for a reason this package does not know.
	Rejected = "Rejected"
)

// ServiceUnavailable is the retryable type: a 5xx answer, a refused connection or a
// timeout. The outcome is unknown, so the step's compensation is registered even when the
// retries run out.
const ServiceUnavailable = "ServiceUnavailable"

// IsBusinessRejection reports whether err is (or wraps) an ApplicationError of one of the
// business rejection types.
func IsBusinessRejection(err error) bool {
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) {
		return false
	}
	switch appErr.Type() {
	case OutOfStock, PaymentDeclined, InsufficientFunds, ShippingUnavailable, ApprovalRejected,
		ApprovalTimedOut, InvalidOrder, UnknownProduct, UnknownCustomer,
		CouponUnknown, CouponAlreadyRedeemed, CouponExpired, CouponNotApplicable:
		return true
	}
	return false
}

// IsDefiniteRefusal reports whether err is (or wraps) an ApplicationError saying the service
// holds something else under the order's ID and did nothing for this request: a different
// request (IdempotencyConflict: the ID was used by another order, say one placed before the
// workflow's retention) or an order already undone (AlreadyCompensated). Only a request
// that differs from the saga's could get these, so no attempt of this saga had an effect.
func IsDefiniteRefusal(err error) bool {
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) {
		return false
	}
	return appErr.Type() == IdempotencyConflict || appErr.Type() == AlreadyCompensated
}

// Attempt returns the attempt number carried by an error from this package, or 0.
func Attempt(err error) int32 {
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || !appErr.HasDetails() {
		return 0
	}
	var n int32
	if appErr.Details(&n) != nil {
		return 0
	}
	return n
}
