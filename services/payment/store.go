package payment

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/ordersaga/ordersaga/internal/database"
	"github.com/ordersaga/ordersaga/internal/httpx"
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

// matches reports whether the payment was made for the same request as req.
func (r paymentRow) matches(req ChargeRequest) bool {
	return r.CustomerID == req.CustomerID && r.AmountCents == req.AmountCents &&
		r.Currency == req.Currency && r.PaymentMethod == req.PaymentMethod
}

// declineErr is the error a DECLINED payment is answered with, from its decline code.
func (r paymentRow) declineErr() error {
	switch {
	case r.DeclineCode == DeclineInsufficientFunds:
		return fmt.Errorf("%w: customer %s cannot cover %d cents", ErrInsufficientFunds, r.CustomerID, r.AmountCents)
	case r.PaymentMethod == MethodDeclined:
		return fmt.Errorf("%w: the card was declined", ErrPaymentDeclined)
	default:
		return fmt.Errorf("%w: unknown payment method %q", ErrPaymentDeclined, r.PaymentMethod)
	}
}

// Store keeps customers and payments in a GORM database.
type Store struct {
	db *gorm.DB
}

// NewStore creates the tables when missing and loads SeedCustomers, leaving customers that
// already exist (and their balances) as they are.
func NewStore(ctx context.Context, db *gorm.DB) (*Store, error) {
	err := database.Migrate(ctx, db, "payment", func(tx *gorm.DB) error {
		if err := tx.AutoMigrate(&customerRow{}, &paymentRow{}); err != nil {
			return fmt.Errorf("migrate payment tables: %w", err)
		}
		rows := make([]customerRow, len(SeedCustomers))
		for i, c := range SeedCustomers {
			rows[i] = customerRow{CustomerID: c.CustomerID, BalanceCents: c.BalanceCents}
		}
		if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&rows).Error; err != nil {
			return fmt.Errorf("seed customers: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &Store{db: db}, nil
}

// Customer returns one customer, or ErrNotFound.
func (s *Store) Customer(ctx context.Context, customerID string) (Customer, error) {
	if !httpx.ValidID(customerID) { // no such customer can exist; do not send it to the database
		return Customer{}, fmt.Errorf("customer %q: %w", customerID, ErrNotFound)
	}
	var row customerRow
	err := s.db.WithContext(ctx).Take(&row, "customer_id = ?", customerID).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Customer{}, fmt.Errorf("customer %s: %w", customerID, ErrNotFound)
	}
	if err != nil {
		return Customer{}, fmt.Errorf("get customer %s: %w", customerID, err)
	}
	return row.toCustomer(), nil
}

// UpsertCustomer creates the customer customerID with the balance of u, or sets an existing
// customer's balance, and reports whether it was created. It returns a
// *httpx.ValidationError for an invalid ID or a negative balance.
func (s *Store) UpsertCustomer(ctx context.Context, customerID string, u CustomerUpdate) (Customer, bool, error) {
	var v httpx.Validator
	v.Check(httpx.ValidID(customerID), "customerId", "must be an ID (letters, digits, -_.:)")
	v.Check(u.BalanceCents >= 0 && u.BalanceCents <= maxBalanceCents, "balanceCents", "must be between 0 and 1000000000000000")
	if err := v.Err(); err != nil {
		return Customer{}, false, err
	}
	var (
		row     customerRow
		created bool
	)
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
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
// flaky test card (the attempt is recorded), or a *httpx.ValidationError.
func (s *Store) Charge(ctx context.Context, req ChargeRequest) (Payment, bool, error) {
	if err := req.validate(); err != nil {
		return Payment{}, false, err
	}
	var (
		row     paymentRow
		settled bool  // an earlier call decided the payment; answered below from the stored row
		outcome error // a decline or a failed flaky attempt: committed, then returned
	)
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		now := tx.NowFunc()
		// The primary key on order_id is the idempotency guard: only one insert wins, and
		// concurrent charges of the order queue behind it.
		ins := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&paymentRow{
			OrderID: req.OrderID, CustomerID: req.CustomerID, Status: string(Pending),
			AmountCents: req.AmountCents, Currency: req.Currency, PaymentMethod: req.PaymentMethod,
		})
		if ins.Error != nil {
			return ins.Error
		}
		// Only a PENDING payment takes another attempt; the update also locks the row.
		att := tx.Model(&paymentRow{}).Where("order_id = ? AND status = ?", req.OrderID, Pending).
			Updates(map[string]any{"attempts": gorm.Expr("attempts + 1"), "updated_at": now})
		if att.Error != nil {
			return att.Error
		}
		if att.RowsAffected == 0 {
			settled = true
			return nil
		}
		if err := tx.Take(&row, "order_id = ?", req.OrderID).Error; err != nil {
			return err
		}
		if !row.matches(req) {
			return ErrConflict
		}
		var cust customerRow
		err := tx.Take(&cust, "customer_id = ?", req.CustomerID).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return fmt.Errorf("%w: %s", ErrUnknownCustomer, req.CustomerID)
		}
		if err != nil {
			return err
		}

		// settle moves the PENDING payment (locked by this transaction) to its outcome.
		settle := func(fields map[string]any) error {
			fields["updated_at"] = now
			err := tx.Model(&paymentRow{}).Where("order_id = ? AND status = ?", req.OrderID, Pending).
				Updates(fields).Error
			if err != nil {
				return err
			}
			return tx.Take(&row, "order_id = ?", req.OrderID).Error
		}
		switch req.PaymentMethod {
		case MethodVisa:
		case MethodFlaky:
			if row.Attempts <= flakyFailures {
				// Commit: the attempt count must survive for the retry to go through.
				outcome = fmt.Errorf("%w: %s failed attempt %d of order %s (test card)",
					httpx.ErrUnavailable, MethodFlaky, row.Attempts, req.OrderID)
				return nil
			}
		default:
			if err := settle(map[string]any{"status": string(Declined), "decline_code": DeclinePaymentDeclined}); err != nil {
				return err
			}
			outcome = row.declineErr()
			return nil
		}
		debit := tx.Model(&customerRow{}).
			Where("customer_id = ? AND balance_cents >= ?", req.CustomerID, req.AmountCents).
			Updates(map[string]any{"balance_cents": gorm.Expr("balance_cents - ?", req.AmountCents), "updated_at": now})
		if debit.Error != nil {
			return debit.Error
		}
		if debit.RowsAffected == 0 {
			if err := settle(map[string]any{"status": string(Declined), "decline_code": DeclineInsufficientFunds}); err != nil {
				return err
			}
			outcome = row.declineErr()
			return nil
		}
		return settle(map[string]any{"status": string(Charged), "charged_at": now})
	})
	if err != nil {
		return Payment{}, false, fmt.Errorf("charge order %s: %w", req.OrderID, err)
	}
	if outcome != nil {
		return row.toPayment(), false, fmt.Errorf("charge order %s: %w", req.OrderID, outcome)
	}
	if !settled {
		return row.toPayment(), true, nil
	}

	if err := s.db.WithContext(ctx).Take(&row, "order_id = ?", req.OrderID).Error; err != nil {
		return Payment{}, false, fmt.Errorf("charge order %s: read payment: %w", req.OrderID, err)
	}
	switch st := Status(row.Status); {
	case st == Refunded || st == Voided:
		return row.toPayment(), false, fmt.Errorf("charge order %s: %w (%s)", req.OrderID, ErrCompensated, st)
	case !row.matches(req):
		return row.toPayment(), false, fmt.Errorf("charge order %s: %w", req.OrderID, ErrConflict)
	case st == Declined:
		return row.toPayment(), false, fmt.Errorf("charge order %s: %w", req.OrderID, row.declineErr())
	case st == Charged:
		return row.toPayment(), false, nil
	default: // PENDING never follows a settled state
		return Payment{}, false, fmt.Errorf("charge order %s: unexpected status %s", req.OrderID, st)
	}
}

// Refund gives an order's charge back to the customer, once, and returns the payment.
// Refunding an order that was never charged records a VOIDED tombstone, and voids a
// PENDING payment, so that a late charge is refused. A DECLINED payment stays DECLINED
// (nothing was taken). Refunding again returns the payment as it is. It returns only a
// *httpx.ValidationError for an invalid order ID, or a database error.
func (s *Store) Refund(ctx context.Context, orderID string) (Payment, error) {
	var v httpx.Validator
	v.Check(httpx.ValidID(orderID), "orderId", "must be an ID (letters, digits, -_.:)")
	if err := v.Err(); err != nil {
		return Payment{}, err
	}
	var row paymentRow
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		now := tx.NowFunc()
		tomb := tx.Clauses(clause.OnConflict{DoNothing: true}).
			Create(&paymentRow{OrderID: orderID, Status: string(Voided)})
		if tomb.Error != nil {
			return tomb.Error
		}
		if tomb.RowsAffected == 0 {
			// Only the call that moves CHARGED to REFUNDED credits the customer.
			upd := tx.Model(&paymentRow{}).Where("order_id = ? AND status = ?", orderID, Charged).
				Updates(map[string]any{"status": string(Refunded), "refunded_at": now, "updated_at": now})
			if upd.Error != nil {
				return upd.Error
			}
			if upd.RowsAffected == 1 {
				var p paymentRow
				if err := tx.Take(&p, "order_id = ?", orderID).Error; err != nil {
					return err
				}
				credit := tx.Model(&customerRow{}).Where("customer_id = ?", p.CustomerID).
					Updates(map[string]any{"balance_cents": gorm.Expr("balance_cents + ?", p.AmountCents), "updated_at": now})
				if credit.Error != nil {
					return credit.Error
				}
				if credit.RowsAffected != 1 {
					return fmt.Errorf("credit customer %s: no such customer", p.CustomerID)
				}
			} else {
				// A charge that never went through (the flaky card between attempts):
				// void it so that a late retry is refused.
				err := tx.Model(&paymentRow{}).Where("order_id = ? AND status = ?", orderID, Pending).
					Updates(map[string]any{"status": string(Voided), "updated_at": now}).Error
				if err != nil {
					return err
				}
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
	if !httpx.ValidID(orderID) {
		return Payment{}, fmt.Errorf("payment for order %q: %w", orderID, ErrNotFound)
	}
	var row paymentRow
	err := s.db.WithContext(ctx).Take(&row, "order_id = ?", orderID).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Payment{}, fmt.Errorf("payment for order %s: %w", orderID, ErrNotFound)
	}
	if err != nil {
		return Payment{}, fmt.Errorf("get payment for order %s: %w", orderID, err)
	}
	return row.toPayment(), nil
}
