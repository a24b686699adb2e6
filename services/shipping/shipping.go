// Package shipping is the shipping service: it schedules one shipment per order, with a
// carrier and a tracking number, to the countries it serves, and cancels it again.
//
// Every write is idempotent, keyed by the order ID: scheduling again with the same address
// and items returns the first shipment (the carrier and tracking number are derived from
// the order, so a replay is identical), and cancelling twice cancels once. Cancelling an
// order that was never scheduled succeeds and leaves a VOIDED tombstone, so that a
// schedule arriving late for that order is refused with ErrCompensated instead of
// shipping goods for an order that was already undone.
//
// Each change of a shipment is also a domain event (events.go), which the store writes
// into the service's transactional outbox (internal/outbox) in the same transaction as the
// change.
//
// The package holds the domain types and errors (this file), the state machine as pure
// decisions (decisions.go), the GORM store that locks, decides and writes (store.go), its
// events (events.go), the Gin handlers (http.go) and a typed HTTP client for the
// activities (client.go).
package shipping

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/ordersaga/ordersaga/domain"
	"github.com/ordersaga/ordersaga/internal/httpx"
	"github.com/ordersaga/ordersaga/internal/validate"
)

// Operations are the write operations that fault injection can target.
var Operations = []string{"schedule", "cancel"}

// ServedCountries are the ISO 3166-1 alpha-2 codes of the countries the service ships to.
// Any other country, or the postal code UnservedPostalCode, is ErrShippingUnavailable.
var ServedCountries = []string{"US", "CA", "GB", "DE", "FR", "KR", "JP"}

// UnservedPostalCode is a postal code no carrier delivers to, in any country (the test
// vocabulary's way to make shipping fail for a served country).
const UnservedPostalCode = "00000"

// carriers names the carrier of each served country.
var carriers = map[string]string{
	"US": "UPS", "CA": "UPS",
	"GB": "DHL", "DE": "DHL", "FR": "DHL",
	"KR": "EMS", "JP": "EMS",
}

// Errors returned by the store and, through the client, by the HTTP API.
var (
	// ErrShippingUnavailable means no carrier delivers to the address: the country is not
	// served, or the postal code is unserved.
	ErrShippingUnavailable = errors.New("shipping unavailable")
	// ErrNotFound means the order has no shipment.
	ErrNotFound = errors.New("not found")
	// ErrConflict means the order's shipment was already scheduled to another address or
	// with other items.
	ErrConflict = errors.New("order already scheduled with a different address or items")
	// ErrCompensated means the order's shipment was already cancelled or voided; a
	// schedule arriving after its compensation is refused.
	ErrCompensated = errors.New("shipment already cancelled for this order")
)

// Codes maps the errors above to HTTP answers, and back in the client.
var Codes = httpx.Codes{
	{Err: ErrShippingUnavailable, Status: http.StatusUnprocessableEntity, Code: "ShippingUnavailable", Title: "Shipping unavailable"},
	{Err: ErrNotFound, Status: http.StatusNotFound, Code: "NotFound", Title: "Not found"},
	{Err: ErrConflict, Status: http.StatusConflict, Code: "IdempotencyConflict", Title: "Idempotency conflict"},
	{Err: ErrCompensated, Status: http.StatusConflict, Code: "AlreadyCompensated", Title: "Already compensated"},
}

// Address is where a shipment goes. Country is an upper-case ISO 3166-1 alpha-2 code.
type Address struct {
	Name       string `json:"name"`
	Line1      string `json:"line1"`
	City       string `json:"city"`
	PostalCode string `json:"postalCode"`
	Country    string `json:"country"`
}

// Item is a quantity of one product in a shipment.
type Item struct {
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
}

// Status is the state of an order's shipment.
type Status string

// Shipment statuses.
const (
	// Scheduled: a carrier will pick the shipment up.
	Scheduled Status = "SCHEDULED"
	// Cancelled: the compensation cancelled a scheduled shipment.
	Cancelled Status = "CANCELLED"
	// Voided: the compensation ran before anything was scheduled; a tombstone with no
	// address, items, carrier or tracking number.
	Voided Status = "VOIDED"
)

// Shipment is the delivery of one order.
type Shipment struct {
	OrderID        string    `json:"orderId"`
	Status         Status    `json:"status"`
	Carrier        string    `json:"carrier"`
	TrackingNumber string    `json:"trackingNumber"`
	Address        Address   `json:"address"`
	Items          []Item    `json:"items"`
	CreatedAt      time.Time `json:"createdAt"`
	UpdatedAt      time.Time `json:"updatedAt"`
}

// ScheduleRequest asks to ship an order's items to an address. It is the body of
// POST /shipments.
type ScheduleRequest struct {
	OrderID string  `json:"orderId"`
	Address Address `json:"address"`
	Items   []Item  `json:"items"`
}

// Carrier returns the carrier that delivers to country, or "" when the country is not
// served.
func Carrier(country string) string { return carriers[country] }

// TrackingNumber returns the tracking number of an order's shipment: "1Z" and the first
// 12 hex digits of the SHA-256 of the order ID, upper-cased. It depends on the order ID
// only, so a replayed schedule answers the same number.
func TrackingNumber(orderID string) string {
	sum := sha256.Sum256([]byte(orderID))
	return "1Z" + strings.ToUpper(hex.EncodeToString(sum[:])[:12])
}

// validateRequest checks a schedule request's form (not whether the address is served).
// Its errors are collected in v.
func validateRequest(v *validate.Validator, req ScheduleRequest) {
	domain.ID(req.OrderID).Check(v, "orderId")
	a := req.Address
	domain.Name.Check(v, "address.name", a.Name)
	domain.Name.Check(v, "address.line1", a.Line1)
	domain.Name.Check(v, "address.city", a.City)
	domain.Name.Check(v, "address.postalCode", a.PostalCode)
	domain.Country(a.Country).Check(v, "address.country")
	domain.CheckLines(v, "items", len(req.Items), func(i int) (domain.SKU, domain.Quantity) {
		return domain.SKU(req.Items[i].SKU), domain.Quantity(req.Items[i].Quantity)
	})
}
