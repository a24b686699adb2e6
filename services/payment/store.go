package payment

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/ordersaga/ordersaga/domain"
	"github.com/ordersaga/ordersaga/internal/database"
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

// Store keeps customers and payments in a GORM database.
type Store struct {
	db *gorm.DB
	// refundHook, when set (by tests), runs inside a refund's transaction right after
	// its tombstone insert.
	refundHook func()
}

// NewStore creates the tables when missing.
func NewStore(ctx context.Context, db *gorm.DB) (*Store, error) {
	err := database.Migrate(ctx, db, "payment", func(tx *gorm.DB) error {
		if err := tx.AutoMigrate(&customerRow{}, &paymentRow{}); err != nil {
			return fmt.Errorf("migrate payment tables: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &Store{db: db}, nil
}

// Seed loads the demo customers, SeedCustomers, into db (after NewStore made the tables),
// leaving customers that already exist (and their balances) as they are: only when
// SEED_DEMO_DATA asks for it.
func Seed(ctx context.Context, db *gorm.DB) error {
	rows := make([]customerRow, len(SeedCustomers))
	for i, c := range SeedCustomers {
		rows[i] = customerRow{CustomerID: c.CustomerID, BalanceCents: c.BalanceCents}
	}
	if err := db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&rows).Error; err != nil {
		return fmt.Errorf("seed customers: %w", err)
	}
	return nil
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
// most once, and reports whether this call made the charge. Repeating the same request
// returns the first payment (or the same decline) and changes nothing.
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
		ins := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&paymentRow{
			OrderID: req.OrderID, CustomerID: req.CustomerID, Status: string(Pending),
			AmountCents: req.AmountCents, Currency: req.Currency, PaymentMethod: req.PaymentMethod,
		})
		if ins.Error != nil {
			return ins.Error
		}
		// Charges and refunds of one order are decided one at a time, under this lock.
		row, err := database.Lock[paymentRow](tx, "order_id", req.OrderID, ErrNotFound)
		if err != nil {
			return err
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
		fields := map[string]any{"attempts": p.Attempts, "status": string(a.Status), "decline_code": a.DeclineCode, "updated_at": now}
		if a.Status == Charged {
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
		if err := tx.Take(&row, "order_id = ?", req.OrderID).Error; err != nil {
			return err
		}
		p, charged, outcome = row.toPayment(), a.Status == Charged, a.Err
		return nil
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
			return nil
		}
		fields := map[string]any{"status": string(next), "updated_at": now}
		if next == Refunded {
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
		return tx.Take(&row, "order_id = ?", orderID).Error
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
