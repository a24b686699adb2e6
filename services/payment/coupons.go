package payment

import (
	"fmt"
	"time"

	"github.com/ordersaga/ordersaga/domain"
	"github.com/ordersaga/ordersaga/internal/validate"
)

// CouponKind says how a coupon's Value discounts a subtotal.
type CouponKind string

// Coupon kinds.
const (
	// CouponPercent takes Value percent off the subtotal, rounded down to the cent.
	CouponPercent CouponKind = "PERCENT"
	// CouponFixed takes Value cents off the subtotal, never more than the subtotal.
	CouponFixed CouponKind = "FIXED"
)

// CouponStatus is the state of a customer's coupon.
type CouponStatus string

// Coupon statuses.
const (
	// CouponAvailable: the coupon can be redeemed.
	CouponAvailable CouponStatus = "AVAILABLE"
	// CouponRedeemed: an order's redemption holds the coupon (its OrderID) until that
	// redemption is restored.
	CouponRedeemed CouponStatus = "REDEEMED"
)

// Coupon is one of a customer's single-use coupons. Codes are unique per customer, not
// across customers: two customers may each hold a WELCOME10.
type Coupon struct {
	CustomerID string     `json:"customerId"`
	Code       string     `json:"code"`
	Kind       CouponKind `json:"kind"`
	// Value is a percentage (1 to 100) for CouponPercent, cents for CouponFixed.
	Value int64 `json:"value"`
	// MinTotalCents is the smallest subtotal the coupon applies to.
	MinTotalCents int64 `json:"minTotalCents"`
	// ExpiresAt, when set, is when the coupon stops being redeemable.
	ExpiresAt *time.Time   `json:"expiresAt,omitempty"`
	Status    CouponStatus `json:"status"`
	// OrderID is the order whose redemption holds a REDEEMED coupon; empty when AVAILABLE.
	OrderID    string     `json:"orderId,omitempty"`
	RedeemedAt *time.Time `json:"redeemedAt,omitempty"`
}

// CouponList is the body of GET /customers/{customerId}/coupons: a customer's coupons,
// sorted by code.
type CouponList struct {
	Coupons []Coupon `json:"coupons"`
}

// CouponUpdate is the body of PUT /customers/{customerId}/coupons/{code}: it creates the
// coupon AVAILABLE, or replaces the terms of an existing one. A replacement keeps the
// coupon's status (and the order holding it), so that giving a customer a coupon again
// never hands back one that an order has used.
type CouponUpdate struct {
	Kind  CouponKind `json:"kind"`
	Value int64      `json:"value"`
	// MinTotalCents is the smallest subtotal the coupon applies to; 0 for any.
	MinTotalCents int64 `json:"minTotalCents"`
	// ExpiresAt is when the coupon stops being redeemable; nil for never. It may be in
	// the past: an expired coupon is refused with ErrCouponExpired.
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
}

// Bounds of a coupon's expiry: any later time cannot be answered as JSON (RFC 3339 has
// four-digit years), and none earlier is meant.
var (
	minExpiry = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	maxExpiry = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
)

// validate checks an update of the coupon code of customerID and returns a
// *validate.Error.
func (u CouponUpdate) validate(customerID, code string) error {
	var v validate.Validator
	domain.ID(customerID).Check(&v, "customerId")
	domain.CouponCode(code).Check(&v, "code")
	switch u.Kind {
	case CouponPercent:
		v.Check(u.Value >= 1 && u.Value <= 100, "value", "must be between 1 and 100 for a PERCENT coupon")
	case CouponFixed:
		domain.Cents(u.Value).CheckAmount(&v, "value")
	default:
		v.Check(false, "kind", fmt.Sprintf("must be %s or %s", CouponPercent, CouponFixed))
	}
	domain.Cents(u.MinTotalCents).CheckPrice(&v, "minTotalCents")
	if u.ExpiresAt != nil {
		t := u.ExpiresAt.UTC()
		v.Check(!t.Before(minExpiry) && !t.After(maxExpiry), "expiresAt", "must be between 1970 and 9999")
	}
	return v.Err()
}

// RedeemRequest asks to redeem a customer's coupon for an order, on the order's subtotal.
// It is also the body of POST /coupons/redemptions.
type RedeemRequest struct {
	OrderID    string `json:"orderId"`
	CustomerID string `json:"customerId"`
	Code       string `json:"code"`
	// SubtotalCents is the order's price before the discount.
	SubtotalCents int64  `json:"subtotalCents"`
	Currency      string `json:"currency"`
}

// validate checks a redeem request and returns a *validate.Error. Unlike a charge's
// amount, the subtotal may be 0: a free order can carry a coupon, which then discounts
// nothing.
func (r RedeemRequest) validate() error {
	var v validate.Validator
	domain.ID(r.OrderID).Check(&v, "orderId")
	domain.ID(r.CustomerID).Check(&v, "customerId")
	domain.CouponCode(r.Code).Check(&v, "code")
	domain.Cents(r.SubtotalCents).CheckPrice(&v, "subtotalCents")
	v.Check(r.Currency == Currency, "currency", "must be "+Currency)
	return v.Err()
}

// RedemptionStatus is the state of an order's coupon redemption.
type RedemptionStatus string

// Redemption statuses.
const (
	// RedemptionRedeemed: the order holds the coupon and its discount.
	RedemptionRedeemed RedemptionStatus = "REDEEMED"
	// RedemptionRestored: the compensation gave the coupon back.
	RedemptionRestored RedemptionStatus = "RESTORED"
	// RedemptionVoided: the compensation ran before any redeem; a tombstone, with no
	// customer or code, that refuses a late redeem.
	RedemptionVoided RedemptionStatus = "VOIDED"
)

// Redemption is the coupon redemption of one order.
type Redemption struct {
	OrderID    string           `json:"orderId"`
	CustomerID string           `json:"customerId"`
	Code       string           `json:"code"`
	Status     RedemptionStatus `json:"status"`
	// DiscountCents is what the coupon took off the order's subtotal. A RESTORED
	// redemption keeps it, as a record of what was given back.
	DiscountCents int64     `json:"discountCents"`
	CreatedAt     time.Time `json:"createdAt"`
	UpdatedAt     time.Time `json:"updatedAt"`
}

// seedExpiry is when OLD15, the expired demo coupon, expired.
var seedExpiry = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// SeedCoupons are the coupons loaded on start with SeedCustomers, all AVAILABLE.
var SeedCoupons = []Coupon{
	{CustomerID: "cust-1", Code: "WELCOME10", Kind: CouponPercent, Value: 10, Status: CouponAvailable},
	{CustomerID: "cust-1", Code: "SAVE5", Kind: CouponFixed, Value: 500, MinTotalCents: 2000, Status: CouponAvailable},
	{CustomerID: "cust-1", Code: "OLD15", Kind: CouponPercent, Value: 15, ExpiresAt: &seedExpiry, Status: CouponAvailable},
	{CustomerID: "cust-2", Code: "WELCOME10", Kind: CouponPercent, Value: 10, Status: CouponAvailable},
}
