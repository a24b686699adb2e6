// Package inventory is the inventory service: the product catalogue with prices and stock,
// and per-order reservations that take stock all-or-nothing.
//
// Every write is idempotent, keyed by the order ID: reserving again with the same items
// returns the first reservation, and releasing twice restores stock once. Releasing an
// order that never reserved succeeds and leaves a VOIDED tombstone, so that a reservation
// arriving late for that order is refused with ErrCompensated instead of holding stock
// that nobody will ever release.
//
// Each reservation's change is also a domain event (events.go), which the store writes
// into the service's transactional outbox (internal/outbox) in the same transaction as the
// change.
//
// The package holds the domain types and errors (this file), the state machine as pure
// decisions (decisions.go), the GORM store that locks, decides and writes (store.go), its
// events (events.go), the Gin handlers (http.go) and a typed HTTP client for the
// activities (client.go).
package inventory

import (
	"errors"
	"net/http"
	"time"

	"github.com/ordersaga/ordersaga/domain"
	"github.com/ordersaga/ordersaga/internal/httpx"
	"github.com/ordersaga/ordersaga/internal/validate"
)

// Currency is the currency of every price in the catalogue.
const Currency = domain.Currency

// Operations are the write operations that fault injection can target.
var Operations = []string{"reserve", "release"}

// Errors returned by the store and, through the client, by the HTTP API.
var (
	// ErrOutOfStock means an item has less stock available than requested.
	ErrOutOfStock = errors.New("out of stock")
	// ErrUnknownProduct means an item names a SKU the catalogue does not have.
	ErrUnknownProduct = errors.New("unknown product")
	// ErrNotFound means the product or reservation does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict means the order already reserved different items.
	ErrConflict = errors.New("order already reserved different items")
	// ErrCompensated means the order's reservation was already released or voided; a
	// reservation arriving after its compensation is refused.
	ErrCompensated = errors.New("reservation already released for this order")
)

// Codes maps the errors above to HTTP answers, and back in the client.
var Codes = httpx.Codes{
	{Err: ErrOutOfStock, Status: http.StatusConflict, Code: "OutOfStock", Title: "Out of stock"},
	{Err: ErrUnknownProduct, Status: http.StatusUnprocessableEntity, Code: "UnknownProduct", Title: "Unknown product"},
	{Err: ErrNotFound, Status: http.StatusNotFound, Code: "NotFound", Title: "Not found"},
	{Err: ErrConflict, Status: http.StatusConflict, Code: "IdempotencyConflict", Title: "Idempotency conflict"},
	{Err: ErrCompensated, Status: http.StatusConflict, Code: "AlreadyCompensated", Title: "Already compensated"},
}

// Product is a catalogue entry with its stock. Available can be reserved; Reserved is
// held by orders.
type Product struct {
	SKU        string `json:"sku"`
	Name       string `json:"name"`
	PriceCents int64  `json:"priceCents"`
	Available  int    `json:"available"`
	Reserved   int    `json:"reserved"`
}

// ProductUpdate creates a product or sets its name, price and available stock.
type ProductUpdate struct {
	// Name is required for a new product; empty keeps the current name.
	Name string `json:"name,omitempty"`
	// PriceCents is required for a new product; nil keeps the current price.
	PriceCents *int64 `json:"priceCents,omitempty"`
	// Available is the new available stock (a restock sets it); nil keeps it.
	Available *int `json:"available,omitempty"`
}

// Item is a quantity of one product.
type Item struct {
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
}

// QuotedItem is an item priced from the catalogue.
type QuotedItem struct {
	SKU            string `json:"sku"`
	Name           string `json:"name"`
	Quantity       int    `json:"quantity"`
	UnitPriceCents int64  `json:"unitPriceCents"`
}

// Quote prices a list of items at the catalogue's current prices.
type Quote struct {
	Items      []QuotedItem `json:"items"`
	TotalCents int64        `json:"totalCents"`
	Currency   string       `json:"currency"`
}

// ReservationStatus is the state of an order's reservation.
type ReservationStatus string

// Reservation statuses.
const (
	// Reserved: the items' stock is held for the order.
	Reserved ReservationStatus = "RESERVED"
	// Released: the stock was returned by the compensation.
	Released ReservationStatus = "RELEASED"
	// Voided: the compensation ran before any reservation; a tombstone with no items.
	Voided ReservationStatus = "VOIDED"
)

// Reservation is the stock held for one order.
type Reservation struct {
	OrderID   string            `json:"orderId"`
	Status    ReservationStatus `json:"status"`
	Items     []Item            `json:"items"`
	CreatedAt time.Time         `json:"createdAt"`
	UpdatedAt time.Time         `json:"updatedAt"`
}

// validateItems checks a list of items: 1 to domain.MaxItems lines, valid SKUs and
// quantities, no SKU twice.
func validateItems(v *validate.Validator, items []Item) {
	domain.CheckLines(v, "items", len(items), func(i int) (domain.SKU, domain.Quantity) {
		return domain.SKU(items[i].SKU), domain.Quantity(items[i].Quantity)
	})
}
