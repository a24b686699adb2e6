package payment

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/ordersaga/ordersaga/domain"
	"github.com/ordersaga/ordersaga/internal/database"
	"github.com/ordersaga/ordersaga/internal/outbox"
	"github.com/ordersaga/ordersaga/internal/validate"
)

// customerRow is the customers table. The CHECK keeps a balance from ever going negative,
// whatever a write does.
type customerRow struct {
	CustomerID   string `gorm:"primaryKey;size:100"`
	BalanceCents int64  `gorm:"not null;check:balance_cents >= 0"`
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

func (customerRow) TableName() string { return "customers" }

func (r customerRow) toCustomer() Customer {
	return Customer{CustomerID: r.CustomerID, BalanceCents: r.BalanceCents}
}

// paymentRow is the payments table: one row per order, which is what makes charging and
// refunding idempotent. A VOIDED tombstone written by a refund has no customer or amount.
type paymentRow struct {
	OrderID       string `gorm:"primaryKey;size:100"`
	CustomerID    string `gorm:"not null;size:100"`
	Status        string `gorm:"not null;size:16"`
	AmountCents   int64  `gorm:"not null"`
	Currency      string `gorm:"not null;size:3"`
	PaymentMethod string `gorm:"not null;size:100"`
	Attempts      int    `gorm:"not null"`
	DeclineCode   string `gorm:"not null;size:32"`
	CreatedAt     time.Time
	UpdatedAt     time.Time
	ChargedAt     *time.Time
	RefundedAt    *time.Time
}

func (paymentRow) TableName() string { return "payments" }

func (r paymentRow) toPayment() Payment {
	return Payment{OrderID: r.OrderID, CustomerID: r.CustomerID, Status: Status(r.Status),
		AmountCents: r.AmountCents, Currency: r.Currency, PaymentMethod: r.PaymentMethod,
		Attempts: r.Attempts, DeclineCode: r.DeclineCode, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
		ChargedAt: r.ChargedAt, RefundedAt: r.RefundedAt}
}

// couponRow is the coupons table: a customer's coupons, one row per (customer, code). The
// index on code alone tells an unknown code from another customer's.
type couponRow struct {
	CustomerID    string `gorm:"primaryKey;size:100"`
	Code          string `gorm:"primaryKey;size:32;index:idx_coupons_code"`
	Kind          string `gorm:"not null;size:16"`
	Value         int64  `gorm:"not null"`
	MinTotalCents int64  `gorm:"not null"`
	ExpiresAt     *time.Time
	Status        string `gorm:"not null;size:16"`
	OrderID       string `gorm:"not null;size:100"` // the redeeming order; empty when AVAILABLE
	RedeemedAt    *time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

func (couponRow) TableName() string { return "coupons" }

func (r couponRow) toCoupon() Coupon {
	return Coupon{CustomerID: r.CustomerID, Code: r.Code, Kind: CouponKind(r.Kind), Value: r.Value,
		MinTotalCents: r.MinTotalCents, ExpiresAt: r.ExpiresAt, Status: CouponStatus(r.Status),
		OrderID: r.OrderID, RedeemedAt: r.RedeemedAt}
}

// redemptionRow is the coupon_redemptions table: one row per order, which is what makes
// redeeming and restoring idempotent. It keeps the subtotal the coupon was redeemed on,
// to tell a replay from a conflicting request. A VOIDED tombstone written by a restore has
// no customer, code or amounts.
type redemptionRow struct {
	OrderID       string `gorm:"primaryKey;size:100"`
	CustomerID    string `gorm:"not null;size:100"`
	Code          string `gorm:"not null;size:32"`
	Status        string `gorm:"not null;size:16"`
	SubtotalCents int64  `gorm:"not null"`
	DiscountCents int64  `gorm:"not null"`
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

func (redemptionRow) TableName() string { return "coupon_redemptions" }

func (r redemptionRow) toRedemption() Redemption {
	return Redemption{OrderID: r.OrderID, CustomerID: r.CustomerID, Code: r.Code, Status: RedemptionStatus(r.Status),
		DiscountCents: r.DiscountCents, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// Store keeps customers, payments, coupons and redemptions in a GORM database.
type Store struct {
	db *gorm.DB
	// refundHook, when set (by tests), runs inside a refund's transaction right after
	// its tombstone insert.
	refundHook func()
	// redeemHook, when set (by tests), runs inside a fresh redeem's transaction right
	// after it read (and locked) the coupon, before it decides.
	redeemHook func()
}

// NewStore creates the tables, the outbox included, when missing.
func NewStore(ctx context.Context, db *gorm.DB) (*Store, error) {
	err := database.Migrate(ctx, db, service, func(tx *gorm.DB) error {
		if err := tx.AutoMigrate(&customerRow{}, &paymentRow{}, &couponRow{}, &redemptionRow{}); err != nil {
			return fmt.Errorf("migrate payment tables: %w", err)
		}
		if err := outbox.Migrate(tx); err != nil {
			return fmt.Errorf("migrate payment outbox: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &Store{db: db}, nil
}

// Seed loads the demo customers, SeedCustomers, and their coupons, SeedCoupons, into db
// (after NewStore made the tables), leaving customers and coupons that already exist as
// they are (balances, terms and redemptions alike): only when SEED_DEMO_DATA asks for it.
func Seed(ctx context.Context, db *gorm.DB) error {
	rows := make([]customerRow, len(SeedCustomers))
	for i, c := range SeedCustomers {
		rows[i] = customerRow{CustomerID: c.CustomerID, BalanceCents: c.BalanceCents}
	}
	coupons := make([]couponRow, len(SeedCoupons))
	for i, c := range SeedCoupons {
		coupons[i] = couponRow{CustomerID: c.CustomerID, Code: c.Code, Kind: string(c.Kind), Value: c.Value,
			MinTotalCents: c.MinTotalCents, ExpiresAt: c.ExpiresAt, Status: string(CouponAvailable)}
	}
	return db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&rows).Error; err != nil {
			return fmt.Errorf("seed customers: %w", err)
		}
		if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&coupons).Error; err != nil {
			return fmt.Errorf("seed coupons: %w", err)
		}
		return nil
	})
}

// Customer returns one customer, or ErrNotFound.
func (s *Store) Customer(ctx context.Context, customerID string) (Customer, error) {
	if !domain.ID(customerID).Valid() { // no such customer can exist; do not send it to the database
		return Customer{}, fmt.Errorf("customer %q: %w", customerID, ErrNotFound)
	}
	row, err := database.Get[customerRow](ctx, s.db, "customer_id", customerID, ErrNotFound)
	if err != nil {
		return Customer{}, fmt.Errorf("customer: %w", err)
	}
	return row.toCustomer(), nil
}

// UpsertCustomer creates the customer customerID with the balance of u, or sets an existing
// customer's balance, and reports whether it was created. It returns a
// *validate.Error for an invalid ID or a negative balance.
func (s *Store) UpsertCustomer(ctx context.Context, customerID string, u CustomerUpdate) (Customer, bool, error) {
	var v validate.Validator
	domain.ID(customerID).Check(&v, "customerId")
	v.Check(u.BalanceCents >= 0 && u.BalanceCents <= maxBalanceCents, "balanceCents", "must be between 0 and 1000000000000000")
	if err := v.Err(); err != nil {
		return Customer{}, false, err
	}
	var (
		row     customerRow
		created bool
	)
	err := database.Tx(ctx, s.db, func(tx *gorm.DB) error {
		ins := tx.Clauses(clause.OnConflict{DoNothing: true}).
			Create(&customerRow{CustomerID: customerID, BalanceCents: u.BalanceCents})
		if ins.Error != nil {
			return ins.Error
		}
		created = ins.RowsAffected == 1
		if !created {
			err := tx.Model(&customerRow{}).Where("customer_id = ?", customerID).
				Updates(map[string]any{"balance_cents": u.BalanceCents, "updated_at": tx.NowFunc()}).Error
			if err != nil {
				return err
			}
		}
		return tx.Take(&row, "customer_id = ?", customerID).Error
	})
	if err != nil {
		return Customer{}, false, fmt.Errorf("upsert customer %s: %w", customerID, err)
	}
	return row.toCustomer(), created, nil
}

// Charge takes req.AmountCents from the customer's balance for the order req.OrderID, at
// most once, and reports whether this call made the charge, which then writes
// PaymentCharged. Repeating the same request returns the first payment (or the same
// decline) and changes nothing. A decline or a failed attempt writes no event.
//
// It returns ErrPaymentDeclined or ErrInsufficientFunds (the payment is recorded DECLINED,
// nothing taken), ErrUnknownCustomer (nothing written), ErrConflict when the order was
// charged with a different request, ErrCompensated when the order's payment was already
// refunded or voided, an error wrapping httpx.ErrUnavailable for a failed attempt of the
// flaky test card (the attempt is recorded), or a *validate.Error.
func (s *Store) Charge(ctx context.Context, req ChargeRequest) (Payment, bool, error) {
	if err := req.validate(); err != nil {
		return Payment{}, false, err
	}
	var (
		p       Payment
		charged bool
		outcome error // a refusal, a decline or a failed attempt: committed, then returned
	)
	err := database.Tx(ctx, s.db, func(tx *gorm.DB) error {
		now := tx.NowFunc()
		// The primary key on order_id is the idempotency guard: only one insert wins.
		// Charges and refunds of one order are decided one at a time, under the row's
		// lock, which the insert holds for a new payment and Lock takes for an old one.
		row := paymentRow{
			OrderID: req.OrderID, CustomerID: req.CustomerID, Status: string(Pending),
			AmountCents: req.AmountCents, Currency: req.Currency, PaymentMethod: req.PaymentMethod,
		}
		ins := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&row)
		if ins.Error != nil {
			return ins.Error
		}
		if ins.RowsAffected == 0 {
			var err error
			if row, err = database.Lock[paymentRow](tx, "order_id", req.OrderID, ErrNotFound); err != nil {
				return err
			}
		}
		p = row.toPayment()
		attempt, refused := decideCharge(p, req)
		if !attempt {
			outcome = refused
			return nil
		}
		cust, err := database.Lock[customerRow](tx, "customer_id", req.CustomerID, ErrUnknownCustomer)
		if err != nil {
			return err // an unknown customer rolls the insert back too
		}
		p.Attempts++
		a := attemptCharge(p, cust.BalanceCents)
		row.Attempts, row.Status, row.DeclineCode, row.UpdatedAt = p.Attempts, string(a.Status), a.DeclineCode, now
		fields := map[string]any{"attempts": row.Attempts, "status": row.Status, "decline_code": row.DeclineCode, "updated_at": now}
		if a.Status == Charged {
			row.ChargedAt = &now
			fields["charged_at"] = now
			debit := tx.Model(&customerRow{}).Where("customer_id = ? AND balance_cents >= ?", req.CustomerID, req.AmountCents).
				Updates(map[string]any{"balance_cents": gorm.Expr("balance_cents - ?", req.AmountCents), "updated_at": now})
			if debit.Error != nil {
				return debit.Error
			}
			if debit.RowsAffected != 1 { // the locked balance covered it: cannot happen
				return fmt.Errorf("debit customer %s: the balance changed under its lock", req.CustomerID)
			}
		}
		if err := tx.Model(&paymentRow{}).Where("order_id = ?", req.OrderID).Updates(fields).Error; err != nil {
			return err
		}
		p, charged, outcome = row.toPayment(), a.Status == Charged, a.Err
		if !charged {
			return nil // the decline or the failed attempt is recorded, and is no event
		}
		return outbox.Add(tx, service, EventPaymentCharged, req.OrderID, p)
	})
	if err != nil {
		return Payment{}, false, fmt.Errorf("charge order %s: %w", req.OrderID, err)
	}
	if outcome != nil {
		return p, false, fmt.Errorf("charge order %s: %w", req.OrderID, outcome)
	}
	return p, charged, nil
}

// Refund gives an order's charge back to the customer, once, and returns the payment.
// Refunding an order that was never charged records a VOIDED tombstone, and voids a
// PENDING payment, so that a late charge is refused. A DECLINED payment stays DECLINED
// (nothing was taken). Refunding again returns the payment as it is. A refund that
// answers success has left the payment REFUNDED, VOIDED or DECLINED, never CHARGED: it
// waits for a charge attempt in flight and then undoes it. It returns only a
// *validate.Error for an invalid order ID, or a database error.
//
// A refund of a charge writes PaymentRefunded; one that voids the payment of an order
// never charged (the tombstone, or a PENDING payment) writes PaymentVoided; one that
// leaves the payment as it was writes nothing.
func (s *Store) Refund(ctx context.Context, orderID string) (Payment, error) {
	var v validate.Validator
	domain.ID(orderID).Check(&v, "orderId")
	if err := v.Err(); err != nil {
		return Payment{}, err
	}
	var row paymentRow
	err := database.Tx(ctx, s.db, func(tx *gorm.DB) error {
		now := tx.NowFunc()
		tomb := tx.Clauses(clause.OnConflict{DoNothing: true}).
			Create(&paymentRow{OrderID: orderID, Status: string(Voided)})
		if tomb.Error != nil {
			return tomb.Error
		}
		if s.refundHook != nil {
			s.refundHook()
		}
		var err error
		if row, err = database.Lock[paymentRow](tx, "order_id", orderID, ErrNotFound); err != nil {
			return err
		}
		next, credit := decideRefund(row.toPayment())
		if next == Status(row.Status) {
			if tomb.RowsAffected == 1 { // the tombstone just written: the order will never be charged
				return outbox.Add(tx, service, EventPaymentVoided, orderID, row.toPayment())
			}
			return nil
		}
		row.Status, row.UpdatedAt = string(next), now
		fields := map[string]any{"status": row.Status, "updated_at": now}
		if next == Refunded {
			row.RefundedAt = &now
			fields["refunded_at"] = now
		}
		if err := tx.Model(&paymentRow{}).Where("order_id = ?", orderID).Updates(fields).Error; err != nil {
			return err
		}
		if credit {
			c := tx.Model(&customerRow{}).Where("customer_id = ?", row.CustomerID).
				Updates(map[string]any{"balance_cents": gorm.Expr("balance_cents + ?", row.AmountCents), "updated_at": now})
			if c.Error != nil {
				return c.Error
			}
			if c.RowsAffected != 1 {
				return fmt.Errorf("credit customer %s: no such customer", row.CustomerID)
			}
		}
		return outbox.Add(tx, service, refundEvent(next), orderID, row.toPayment())
	})
	if err != nil {
		return Payment{}, fmt.Errorf("refund order %s: %w", orderID, err)
	}
	return row.toPayment(), nil
}

// Payment returns an order's payment, or ErrNotFound.
func (s *Store) Payment(ctx context.Context, orderID string) (Payment, error) {
	if !domain.ID(orderID).Valid() {
		return Payment{}, fmt.Errorf("payment for order %q: %w", orderID, ErrNotFound)
	}
	row, err := database.Get[paymentRow](ctx, s.db, "order_id", orderID, ErrNotFound)
	if err != nil {
		return Payment{}, fmt.Errorf("payment for order: %w", err)
	}
	return row.toPayment(), nil
}

// Coupons returns a customer's coupons sorted by code: none for a customer without any,
// known or not.
func (s *Store) Coupons(ctx context.Context, customerID string) ([]Coupon, error) {
	if !domain.ID(customerID).Valid() { // no such customer can exist; do not send it to the database
		return []Coupon{}, nil
	}
	var rows []couponRow
	err := database.Read(ctx, func() error {
		return s.db.WithContext(ctx).Where("customer_id = ?", customerID).Find(&rows).Error
	})
	if err != nil {
		return nil, fmt.Errorf("coupons of %s: %w", customerID, err)
	}
	// Sorted here rather than by ORDER BY: PostgreSQL's collation may not sort "-" and "_"
	// by byte as SQLite does.
	slices.SortFunc(rows, func(a, b couponRow) int { return strings.Compare(a.Code, b.Code) })
	coupons := make([]Coupon, len(rows))
	for i, r := range rows {
		coupons[i] = r.toCoupon()
	}
	return coupons, nil
}

// UpsertCoupon gives the customer customerID the coupon code, AVAILABLE, or replaces the
// terms of the customer's existing coupon with that code, keeping its status (and the
// order holding it), and reports whether it was created. It returns ErrUnknownCustomer
// when the customer does not exist, or a *validate.Error.
func (s *Store) UpsertCoupon(ctx context.Context, customerID, code string, u CouponUpdate) (Coupon, bool, error) {
	if err := u.validate(customerID, code); err != nil {
		return Coupon{}, false, err
	}
	var expires *time.Time
	if u.ExpiresAt != nil { // stored as both databases read it back: UTC, to the microsecond
		t := u.ExpiresAt.UTC().Truncate(time.Microsecond)
		expires = &t
	}
	var (
		row     couponRow
		created bool
	)
	err := database.Tx(ctx, s.db, func(tx *gorm.DB) error {
		if _, err := database.Take[customerRow](tx, "customer_id", customerID, ErrUnknownCustomer); err != nil {
			return err
		}
		// The primary key decides between concurrent creates: one inserts, the others update.
		ins := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&couponRow{CustomerID: customerID, Code: code,
			Kind: string(u.Kind), Value: u.Value, MinTotalCents: u.MinTotalCents, ExpiresAt: expires, Status: string(CouponAvailable)})
		if ins.Error != nil {
			return ins.Error
		}
		created = ins.RowsAffected == 1
		if !created {
			err := tx.Model(&couponRow{}).Where("customer_id = ? AND code = ?", customerID, code).
				Updates(map[string]any{"kind": string(u.Kind), "value": u.Value, "min_total_cents": u.MinTotalCents,
					"expires_at": expires, "updated_at": tx.NowFunc()}).Error
			if err != nil {
				return err
			}
		}
		return tx.Take(&row, "customer_id = ? AND code = ?", customerID, code).Error
	})
	if err != nil {
		return Coupon{}, false, fmt.Errorf("upsert coupon %s of %s: %w", code, customerID, err)
	}
	return row.toCoupon(), created, nil
}

// RedeemCoupon redeems the customer's coupon req.Code for the order req.OrderID, at most
// once, and reports whether this call redeemed it, which then writes CouponRedeemed. The
// coupon becomes REDEEMED, held by the order, and the redemption records the discount
// (see discountCents). Repeating the same request returns the first redemption and
// changes nothing.
//
// It returns ErrCouponUnknown, ErrCouponNotApplicable, ErrCouponExpired or
// ErrCouponAlreadyRedeemed (nothing written: a refused redeem leaves no trace, and the
// same request may succeed later, once the coupon is given back), ErrConflict when the
// order redeemed with a different request, ErrCompensated when the order's redemption
// was already restored or voided, or a *validate.Error.
//
// Of concurrent redeems of one coupon by different orders exactly one succeeds: each
// decides under the coupon's row lock, on the coupon as the previous one left it, so the
// others see it REDEEMED and are refused with ErrCouponAlreadyRedeemed.
func (s *Store) RedeemCoupon(ctx context.Context, req RedeemRequest) (Redemption, bool, error) {
	if err := req.validate(); err != nil {
		return Redemption{}, false, err
	}
	var (
		row     redemptionRow
		created bool
		outcome error // the refusal of a replay: nothing to write, returned after the commit
	)
	err := database.Tx(ctx, s.db, func(tx *gorm.DB) error {
		now := tx.NowFunc()
		// The primary key on order_id is the idempotency guard: only one insert wins. A
		// fresh redemption is written now and rolled back with the rest if refused.
		ins := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&redemptionRow{
			OrderID: req.OrderID, CustomerID: req.CustomerID, Code: req.Code,
			Status: string(RedemptionRedeemed), SubtotalCents: req.SubtotalCents,
		})
		if ins.Error != nil {
			return ins.Error
		}
		// Redeems and restores of one order are decided one at a time, under this lock.
		var err error
		if row, err = database.Lock[redemptionRow](tx, "order_id", req.OrderID, ErrNotFound); err != nil {
			return err
		}
		if ins.RowsAffected == 0 { // an earlier redeem or restore decided
			outcome = decideRedeem(row.toRedemption(), row.SubtotalCents, req)
			return nil
		}
		owned, elsewhere, err := lockCoupon(tx, req.CustomerID, req.Code)
		if err != nil {
			return err
		}
		if s.redeemHook != nil {
			s.redeemHook()
		}
		if err := checkCoupon(owned, elsewhere, req, now); err != nil {
			return err // rolls the redemption back
		}
		// The coupon is locked and AVAILABLE; the condition guards the invariant anyway:
		// a coupon is only ever taken from AVAILABLE.
		take := tx.Model(&couponRow{}).
			Where("customer_id = ? AND code = ? AND status = ?", req.CustomerID, req.Code, string(CouponAvailable)).
			Updates(map[string]any{"status": string(CouponRedeemed), "order_id": req.OrderID, "redeemed_at": now, "updated_at": now})
		if take.Error != nil {
			return take.Error
		}
		if take.RowsAffected != 1 {
			return fmt.Errorf("%w: coupon %q of %s was taken by another order", ErrCouponAlreadyRedeemed, req.Code, req.CustomerID)
		}
		err = tx.Model(&redemptionRow{}).Where("order_id = ?", req.OrderID).
			Updates(map[string]any{"discount_cents": discountCents(*owned, req.SubtotalCents), "updated_at": now}).Error
		if err != nil {
			return err
		}
		if err := tx.Take(&row, "order_id = ?", req.OrderID).Error; err != nil {
			return err
		}
		created = true
		return outbox.Add(tx, service, EventCouponRedeemed, req.OrderID, row.toRedemption())
	})
	if err != nil {
		return Redemption{}, false, fmt.Errorf("redeem coupon for order %s: %w", req.OrderID, err)
	}
	if outcome != nil {
		return row.toRedemption(), false, fmt.Errorf("redeem coupon for order %s: %w", req.OrderID, outcome)
	}
	return row.toRedemption(), created, nil
}

// lockCoupon loads the coupon code of customerID locked until tx ends (nil when the
// customer has none), and reports whether another customer has a coupon with that code.
func lockCoupon(tx *gorm.DB, customerID, code string) (owned *Coupon, elsewhere bool, err error) {
	var row couponRow
	err = tx.Clauses(clause.Locking{Strength: "UPDATE"}).Take(&row, "customer_id = ? AND code = ?", customerID, code).Error
	switch {
	case err == nil:
		c := row.toCoupon()
		return &c, false, nil
	case !errors.Is(err, gorm.ErrRecordNotFound):
		return nil, false, fmt.Errorf("read coupon %s of %s: %w", code, customerID, err)
	}
	var others int64
	if err := tx.Model(&couponRow{}).Where("code = ?", code).Limit(1).Count(&others).Error; err != nil {
		return nil, false, fmt.Errorf("look coupon %s up: %w", code, err)
	}
	return nil, others > 0, nil
}

// RestoreCoupon gives back the coupon an order redeemed, once, and returns the
// redemption, RESTORED; that writes CouponRestored. Restoring an order that never redeemed
// records a VOIDED tombstone, so that a late redeem is refused with ErrCompensated.
// Restoring again returns the redemption as it is. Neither writes an event. It returns
// only a *validate.Error for an invalid order ID, or a database error.
func (s *Store) RestoreCoupon(ctx context.Context, orderID string) (Redemption, error) {
	var v validate.Validator
	domain.ID(orderID).Check(&v, "orderId")
	if err := v.Err(); err != nil {
		return Redemption{}, err
	}
	var row redemptionRow
	err := database.Tx(ctx, s.db, func(tx *gorm.DB) error {
		now := tx.NowFunc()
		tomb := tx.Clauses(clause.OnConflict{DoNothing: true}).
			Create(&redemptionRow{OrderID: orderID, Status: string(RedemptionVoided)})
		if tomb.Error != nil {
			return tomb.Error
		}
		var err error
		if row, err = database.Lock[redemptionRow](tx, "order_id", orderID, ErrNotFound); err != nil {
			return err
		}
		next, giveBack := decideRestore(row.toRedemption())
		if !giveBack {
			return nil
		}
		// Only while the coupon is still this order's: it was taken in the same
		// transaction as the redemption was written, and only this restore gives it back,
		// so the condition is a guard that never hands another order's coupon back.
		back := tx.Model(&couponRow{}).
			Where("customer_id = ? AND code = ? AND status = ? AND order_id = ?", row.CustomerID, row.Code, string(CouponRedeemed), orderID).
			Updates(map[string]any{"status": string(CouponAvailable), "order_id": "", "redeemed_at": nil, "updated_at": now})
		if back.Error != nil {
			return back.Error
		}
		err = tx.Model(&redemptionRow{}).Where("order_id = ?", orderID).
			Updates(map[string]any{"status": string(next), "updated_at": now}).Error
		if err != nil {
			return err
		}
		if err := tx.Take(&row, "order_id = ?", orderID).Error; err != nil {
			return err
		}
		return outbox.Add(tx, service, EventCouponRestored, orderID, row.toRedemption())
	})
	if err != nil {
		return Redemption{}, fmt.Errorf("restore coupon of order %s: %w", orderID, err)
	}
	return row.toRedemption(), nil
}

// Redemption returns an order's coupon redemption, or ErrNotFound.
func (s *Store) Redemption(ctx context.Context, orderID string) (Redemption, error) {
	if !domain.ID(orderID).Valid() {
		return Redemption{}, fmt.Errorf("coupon redemption for order %q: %w", orderID, ErrNotFound)
	}
	row, err := database.Get[redemptionRow](ctx, s.db, "order_id", orderID, ErrNotFound)
	if err != nil {
		return Redemption{}, fmt.Errorf("coupon redemption for order: %w", err)
	}
	return row.toRedemption(), nil
}
