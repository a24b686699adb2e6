package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/temporal"

	"github.com/ordersaga/ordersaga/internal/httpx"
	"github.com/ordersaga/ordersaga/saga"
	"github.com/ordersaga/ordersaga/services/inventory"
)

// Errors of the public API. Together with httpx's common ones they are all a client sees.
var (
	// ErrOrderNotFound: no order has this ID.
	ErrOrderNotFound = errors.New("order not found")
	// ErrOrderExists: an order with this ID exists with a different body.
	ErrOrderExists = errors.New("an order with this ID already exists with a different body")
	// ErrKeyReused: the Idempotency-Key was used before with a different body.
	ErrKeyReused = errors.New("idempotency key already used with a different body")
	// ErrInvalidState: the order's state does not allow the request (cancelling past the
	// point of no return, approving an order that does not await approval, ...).
	ErrInvalidState = errors.New("the order's state does not allow this")
)

// codes is the API's one error table.
var codes = httpx.Codes{
	{Err: ErrOrderNotFound, Status: http.StatusNotFound, Code: "OrderNotFound", Title: "Order not found"},
	{Err: ErrOrderExists, Status: http.StatusConflict, Code: "OrderExists", Title: "Order exists"},
	{Err: ErrKeyReused, Status: http.StatusUnprocessableEntity, Code: "IdempotencyKeyReused", Title: "Idempotency key reused"},
	{Err: ErrInvalidState, Status: http.StatusConflict, Code: "InvalidOrderState", Title: "Invalid order state"},
	{Err: inventory.ErrUnknownProduct, Status: http.StatusUnprocessableEntity, Code: "UnknownProduct", Title: "Unknown product"},
}

// fromTemporal maps an error of the Temporal client, for the order orderID, to the API's
// errors: a missing workflow, a refused update, an unreachable server.
func fromTemporal(orderID string, err error) error {
	var (
		notFound *serviceerror.NotFound
		appErr   *temporal.ApplicationError
	)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &notFound):
		return fmt.Errorf("%w: %s", ErrOrderNotFound, orderID)
	case errors.As(err, &appErr) && appErr.Type() == saga.ErrTypeInvalidState:
		return fmt.Errorf("%w: %s", ErrInvalidState, appErr.Message())
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return fmt.Errorf("%w: Temporal did not answer in time for order %s", httpx.ErrUnavailable, orderID)
	}
	return fmt.Errorf("%w: Temporal: %v", httpx.ErrUnavailable, err)
}
