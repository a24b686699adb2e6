package activities

import (
	"errors"

	"go.temporal.io/sdk/temporal"

	"github.com/ordersaga/ordersaga/internal/httpx"
	"github.com/ordersaga/ordersaga/internal/validate"
	"github.com/ordersaga/ordersaga/saga"
	"github.com/ordersaga/ordersaga/services/inventory"
	"github.com/ordersaga/ordersaga/services/order"
	"github.com/ordersaga/ordersaga/services/payment"
	"github.com/ordersaga/ordersaga/services/shipping"
)

// business lists the business rejections by the service errors they come from.
var business = []struct {
	err error
	typ string
}{
	{inventory.ErrOutOfStock, saga.OutOfStock},
	{inventory.ErrUnknownProduct, saga.UnknownProduct},
	{payment.ErrPaymentDeclined, saga.PaymentDeclined},
	{payment.ErrInsufficientFunds, saga.InsufficientFunds},
	{payment.ErrUnknownCustomer, saga.UnknownCustomer},
	{payment.ErrCouponUnknown, saga.CouponUnknown},
	{payment.ErrCouponAlreadyRedeemed, saga.CouponAlreadyRedeemed},
	{payment.ErrCouponExpired, saga.CouponExpired},
	{payment.ErrCouponNotApplicable, saga.CouponNotApplicable},
	{shipping.ErrShippingUnavailable, saga.ShippingUnavailable},
	{validate.ErrInvalid, saga.InvalidOrder},
}

// final lists the other errors that retrying cannot fix.
var final = []struct {
	err error
	typ string
}{
	{inventory.ErrCompensated, saga.AlreadyCompensated},
	{payment.ErrCompensated, saga.AlreadyCompensated},
	{shipping.ErrCompensated, saga.AlreadyCompensated},
	{order.ErrCompensated, saga.AlreadyCompensated},
	{inventory.ErrConflict, saga.IdempotencyConflict},
	{payment.ErrConflict, saga.IdempotencyConflict},
	{shipping.ErrConflict, saga.IdempotencyConflict},
	{order.ErrConflict, saga.IdempotencyConflict},
	{order.ErrCompleted, saga.OrderCompleted},
	{order.ErrNotFound, saga.OrderNotFound},
	{httpx.ErrRejected, saga.Rejected},
}

// classify turns a service client's error into the ApplicationError the workflow sees:
// non-retryable with a business or final type, or retryable ServiceUnavailable. The
// attempt number travels in the error's details so the workflow can show it.
func classify(err error, attempt int32) error {
	msg := message(err)
	for _, b := range business {
		if errors.Is(err, b.err) {
			return newError(msg, b.typ, true, attempt)
		}
	}
	for _, f := range final {
		if errors.Is(err, f.err) {
			return newError(msg, f.typ, true, attempt)
		}
	}
	return newError(msg, saga.ServiceUnavailable, false, attempt)
}

func newError(msg, typ string, nonRetryable bool, attempt int32) error {
	return temporal.NewApplicationErrorWithOptions(msg, typ, temporal.ApplicationErrorOptions{
		NonRetryable: nonRetryable,
		Details:      []any{attempt},
	})
}

// message is the service's own explanation when it gave one, else the error text.
func message(err error) string {
	var re *httpx.ResponseError
	if errors.As(err, &re) && re.Problem.Detail != "" {
		return re.Problem.Detail
	}
	return err.Error()
}
