package api

import (
	"net/http"

	"github.com/ordersaga/ordersaga/app"
	"github.com/ordersaga/ordersaga/internal/codec"
	"github.com/ordersaga/ordersaga/internal/httpx"
	"github.com/ordersaga/ordersaga/services/inventory"
)

// codes is the API's one error table: the use cases' errors, and the inventory's unknown
// product (the pricing's), as HTTP answers. Validation errors, the services' 4xx
// problems and unavailable dependencies are httpx's common ones.
var codes = httpx.Codes{
	{Err: app.ErrOrderNotFound, Status: http.StatusNotFound, Code: "OrderNotFound", Title: "Order not found"},
	{Err: app.ErrOrderExists, Status: http.StatusConflict, Code: "OrderExists", Title: "Order exists"},
	{Err: app.ErrKeyReused, Status: http.StatusUnprocessableEntity, Code: "IdempotencyKeyReused", Title: "Idempotency key reused"},
	{Err: app.ErrInvalidState, Status: http.StatusConflict, Code: "InvalidOrderState", Title: "Invalid order state"},
	{Err: codec.ErrCannotOpen, Status: http.StatusUnprocessableEntity, Code: "PayloadSealed", Title: "Payload cannot be opened"},
	{Err: inventory.ErrUnknownProduct, Status: http.StatusUnprocessableEntity, Code: "UnknownProduct", Title: "Unknown product"},
}
