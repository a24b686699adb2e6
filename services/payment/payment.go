// Package payment is the payment service: customers with balances, and per-order payments
// that charge a customer at most once and refund exactly once.
//
// Every write is idempotent, keyed by the order ID. Charging again with the same request
// returns the first payment (or the same decline) and debits nothing more; refunding twice
// credits the customer once. Refunding an order that was never charged succeeds and leaves
// a VOIDED tombstone, so that a charge arriving late for that order is refused with
// ErrCompensated instead of taking money that nobody will ever give back. A charge still
// PENDING (the flaky test card between attempts) is voided the same way.
//
// Payment methods are test tokens in the spirit of card processors' test cards: see
// MethodVisa, MethodDeclined and MethodFlaky.
//
// Customers also own single-use coupons (billing owns them, so the payment service keeps
// them). Redeeming a coupon for an order is idempotent by order ID in the same way, and
// restoring it, the saga's compensation, gives the coupon back once, or leaves a VOIDED
// tombstone that refuses a redeem arriving late for that order.
//
// Each change of a payment or a redemption is also a domain event (events.go), which the
// store writes into the service's transactional outbox (internal/outbox) in the same
// transaction as the change.
//
// The package holds the domain types and errors (this file and coupons.go), the state
// machines as pure decisions (decisions.go), the GORM store that locks, decides and writes
// (store.go), its events (events.go), the Gin handlers (http.go) and a typed HTTP client
// for the activities (client.go).
package payment

import (
	"errors"
	"net/http"
	"time"

	"github.com/ordersaga/ordersaga/domain"
	"github.com/ordersaga/ordersaga/internal/httpx"
	"github.com/ordersaga/ordersaga/internal/validate"
)

// Currency is the only currency the service charges in.
const Currency = domain.Currency

// Operations are the write operations that fault injection can target.
var Operations = []string{"charge", "refund", "redeem", "restore"}

// Test payment methods.
const (
	// MethodVisa succeeds when the customer's balance covers the amount.
	MethodVisa = "pm_card_visa"
	// MethodDeclined is always declined with ErrPaymentDeclined.
	MethodDeclined = "pm_card_declined"
	// MethodFlaky fails the first two attempts of each charge with an error wrapping
	// httpx.ErrUnavailable (503), then behaves like MethodVisa.
	MethodFlaky = "pm_card_flaky"
)

// flakyFailures is how many attempts of a MethodFlaky charge fail before one goes through.
const flakyFailures = 2

// Errors returned by the store and, through the client, by the HTTP API.
var (
	// ErrPaymentDeclined means the payment method refused the charge (a declined or
	// unknown payment method).
	ErrPaymentDeclined = errors.New("payment declined")
	// ErrInsufficientFunds means the customer's balance does not cover the amount.
	ErrInsufficientFunds = errors.New("insufficient funds")
	// ErrUnknownCustomer means the charge names a customer the service does not have.
	ErrUnknownCustomer = errors.New("unknown customer")
	// ErrNotFound means the customer or payment does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict means the order was already charged with a different request
	// (customer, amount, currency or payment method), or already redeemed a coupon with a
	// different request (customer, code or subtotal).
	ErrConflict = errors.New("order already charged or redeemed with a different request")
	// ErrCompensated means the order's payment was already refunded or voided, or its
	// coupon redemption already restored or voided; a charge or a redeem arriving after
	// its compensation is refused.
	ErrCompensated = errors.New("already refunded, restored or voided for this order")
	// ErrCouponUnknown means no customer has a coupon with that code.
	ErrCouponUnknown = errors.New("unknown coupon")
	// ErrCouponAlreadyRedeemed means the customer's coupon is held by another order's
	// redemption. Coupons are single use; restoring that order's redemption gives it back.
	ErrCouponAlreadyRedeemed = errors.New("coupon already redeemed")
	// ErrCouponExpired means the coupon's expiry has passed.
	ErrCouponExpired = errors.New("coupon expired")
	// ErrCouponNotApplicable means the coupon cannot discount this order: the subtotal is
	// below the coupon's minimum, or the code is another customer's.
	ErrCouponNotApplicable = errors.New("coupon not applicable")
)

// Codes maps the errors above to HTTP answers, and back in the client.
var Codes = httpx.Codes{
	{Err: ErrPaymentDeclined, Status: http.StatusPaymentRequired, Code: "PaymentDeclined", Title: "Payment declined"},
	{Err: ErrInsufficientFunds, Status: http.StatusPaymentRequired, Code: "InsufficientFunds", Title: "Insufficient funds"},
	{Err: ErrUnknownCustomer, Status: http.StatusUnprocessableEntity, Code: "UnknownCustomer", Title: "Unknown customer"},
	{Err: ErrNotFound, Status: http.StatusNotFound, Code: "NotFound", Title: "Not found"},
	{Err: ErrConflict, Status: http.StatusConflict, Code: "IdempotencyConflict", Title: "Idempotency conflict"},
	{Err: ErrCompensated, Status: http.StatusConflict, Code: "AlreadyCompensated", Title: "Already compensated"},
	{Err: ErrCouponUnknown, Status: http.StatusUnprocessableEntity, Code: "CouponUnknown", Title: "Unknown coupon"},
	// 409, like inventory's OutOfStock: the request is fine, the coupon's state refuses it.
	{Err: ErrCouponAlreadyRedeemed, Status: http.StatusConflict, Code: "CouponAlreadyRedeemed", Title: "Coupon already redeemed"},
	{Err: ErrCouponExpired, Status: http.StatusUnprocessableEntity, Code: "CouponExpired", Title: "Coupon expired"},
	{Err: ErrCouponNotApplicable, Status: http.StatusUnprocessableEntity, Code: "CouponNotApplicable", Title: "Coupon not applicable"},
}

// Decline codes recorded on a DECLINED payment: the Code of the error it was declined with.
const (
	DeclinePaymentDeclined   = "PaymentDeclined"
	DeclineInsufficientFunds = "InsufficientFunds"
)

// Customer is a customer and the balance charges are taken from.
type Customer struct {
	CustomerID   string `json:"customerId"`
	BalanceCents int64  `json:"balanceCents"`
}

// CustomerUpdate creates a customer or sets its balance.
type CustomerUpdate struct {
	// BalanceCents is the new balance; it must not be negative.
	BalanceCents int64 `json:"balanceCents"`
}

// SeedCustomers are the customers loaded on start.
var SeedCustomers = []Customer{
	{CustomerID: "cust-1", BalanceCents: 100000},
	{CustomerID: "cust-2", BalanceCents: 5000},
	{CustomerID: "cust-rich", BalanceCents: 100000000},
}

// Status is the state of an order's payment.
type Status string

// Payment statuses.
const (
	// Pending: attempts were recorded but nothing was charged yet (the flaky method).
	Pending Status = "PENDING"
	// Charged: the amount was taken from the customer's balance.
	Charged Status = "CHARGED"
	// Declined: the charge was refused; DeclineCode says why. Nothing was taken.
	Declined Status = "DECLINED"
	// Refunded: the compensation gave the amount back.
	Refunded Status = "REFUNDED"
	// Voided: the compensation ran before any charge; a tombstone that refuses a late one.
	Voided Status = "VOIDED"
)

// Payment is the charge of one order.
type Payment struct {
	OrderID       string `json:"orderId"`
	CustomerID    string `json:"customerId"`
	Status        Status `json:"status"`
	AmountCents   int64  `json:"amountCents"`
	Currency      string `json:"currency"`
	PaymentMethod string `json:"paymentMethod"`
	// Attempts counts the charge calls that reached the payment method.
	Attempts int `json:"attempts"`
	// DeclineCode is DeclinePaymentDeclined or DeclineInsufficientFunds on a DECLINED payment.
	DeclineCode string     `json:"declineCode,omitempty"`
	CreatedAt   time.Time  `json:"createdAt"`
	UpdatedAt   time.Time  `json:"updatedAt"`
	ChargedAt   *time.Time `json:"chargedAt,omitempty"`
	RefundedAt  *time.Time `json:"refundedAt,omitempty"`
}

// ChargeRequest asks to charge an order's amount to a customer. It is also the body of
// POST /payments.
type ChargeRequest struct {
	OrderID       string `json:"orderId"`
	CustomerID    string `json:"customerId"`
	AmountCents   int64  `json:"amountCents"`
	Currency      string `json:"currency"`
	PaymentMethod string `json:"paymentMethod"`
}

// Bounds on amounts and balances, in cents.
const (
	maxBalanceCents = 1_000_000_000_000_000 // 10^15 cents
)

// validate checks a charge request and returns a *validate.Error.
func (r ChargeRequest) validate() error {
	var v validate.Validator
	domain.ID(r.OrderID).Check(&v, "orderId")
	domain.ID(r.CustomerID).Check(&v, "customerId")
	domain.Cents(r.AmountCents).CheckAmount(&v, "amountCents")
	v.Check(r.Currency == Currency, "currency", "must be "+Currency)
	domain.PaymentMethod.Check(&v, "paymentMethod", r.PaymentMethod)
	return v.Err()
}
