package order

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/ordersaga/ordersaga/domain"
	"github.com/ordersaga/ordersaga/internal/database"
	"github.com/ordersaga/ordersaga/internal/outbox"
	"github.com/ordersaga/ordersaga/internal/validate"
)

// orderRow is the orders table: one row per order ID, which is what makes every write
// idempotent. Items are stored as JSON, the address in flat columns.
//
// CreatedMicros is the creation time in microseconds since the epoch: List sorts on it
// (with order_id as the tie-break) because an int64 compares exactly and the same way on
// SQLite and PostgreSQL, which a time column does not. The three composite indexes serve
// List unfiltered, by customer and by status.
type orderRow struct {
	OrderID        string `gorm:"primaryKey;size:100;index:idx_orders_created,priority:2;index:idx_orders_customer,priority:3;index:idx_orders_status,priority:3"`
	CustomerID     string `gorm:"not null;size:100;index:idx_orders_customer,priority:1"`
	Items          []Item `gorm:"serializer:json;type:text;not null"`
	TotalCents     int64  `gorm:"not null"`
	Currency       string `gorm:"not null;size:3"`
	PaymentMethod  string `gorm:"not null"`
	ShipName       string `gorm:"not null"`
	ShipLine1      string `gorm:"not null"`
	ShipCity       string `gorm:"not null"`
	ShipPostalCode string `gorm:"not null"`
	ShipCountry    string `gorm:"not null;size:2"`
	Status         string `gorm:"not null;size:32;index:idx_orders_status,priority:1"`
	Reason         string `gorm:"not null"`
	FailedStep     string `gorm:"not null"`
	ErrorType      string `gorm:"not null"`
	Tombstone      bool   `gorm:"not null"`
	Version        int64  `gorm:"not null"`
	// State is the saga's last published view of the order (JSON), "" before the first.
	State         string `gorm:"type:text;not null;default:''"`
	CreatedMicros int64  `gorm:"not null;index:idx_orders_created,priority:1;index:idx_orders_customer,priority:2;index:idx_orders_status,priority:2"`
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

func (orderRow) TableName() string { return "orders" }

func (r orderRow) toOrder() Order {
	items := r.Items
	if items == nil {
		items = []Item{}
	}
	return Order{
		OrderID:       r.OrderID,
		CustomerID:    r.CustomerID,
		Items:         items,
		TotalCents:    r.TotalCents,
		Currency:      r.Currency,
		PaymentMethod: r.PaymentMethod,
		ShippingAddress: Address{Name: r.ShipName, Line1: r.ShipLine1, City: r.ShipCity,
			PostalCode: r.ShipPostalCode, Country: r.ShipCountry},
		Status:     Status(r.Status),
		Reason:     r.Reason,
		FailedStep: r.FailedStep,
		ErrorType:  r.ErrorType,
		Tombstone:  r.Tombstone,
		Version:    r.Version,
		State:      rawState(r.State),
		CreatedAt:  r.CreatedAt.UTC(),
		UpdatedAt:  r.UpdatedAt.UTC(),
	}
}

func rawState(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}

// newRow is the row of a new PENDING order created at now.
func newRow(r CreateRequest, now time.Time) orderRow {
	a := r.ShippingAddress
	return orderRow{
		OrderID: r.OrderID, CustomerID: r.CustomerID, Items: r.Items, TotalCents: r.TotalCents,
		Currency: r.Currency, PaymentMethod: r.PaymentMethod,
		ShipName: a.Name, ShipLine1: a.Line1, ShipCity: a.City, ShipPostalCode: a.PostalCode, ShipCountry: a.Country,
		Status: string(Pending), CreatedMicros: now.UnixMicro(), CreatedAt: now, UpdatedAt: now,
	}
}

// tombstoneRow is the row left by cancelling an order that was never created.
func tombstoneRow(orderID string, r CancelRequest, now time.Time) orderRow {
	return orderRow{
		OrderID: orderID, Items: []Item{}, Status: string(r.Status), Reason: r.Reason,
		FailedStep: r.FailedStep, ErrorType: r.ErrorType, Tombstone: true,
		CreatedMicros: now.UnixMicro(), CreatedAt: now, UpdatedAt: now,
	}
}

// Store keeps orders in a GORM database.
type Store struct {
	db *gorm.DB
}

// NewStore creates the orders table and its indexes, and the outbox, when missing.
func NewStore(ctx context.Context, db *gorm.DB) (*Store, error) {
	err := database.Migrate(ctx, db, service, func(tx *gorm.DB) error {
		if err := tx.AutoMigrate(&orderRow{}); err != nil {
			return err
		}
		return outbox.Migrate(tx)
	})
	if err != nil {
		return nil, fmt.Errorf("migrate order tables: %w", err)
	}
	return &Store{db: db}, nil
}

// Create creates an order PENDING and reports whether this call created it, which then
// writes OrderCreated. Repeating it with the same body returns the first order (created
// false), whatever its status is now, unless the order was cancelled or rejected.
//
// It returns ErrCompensated when the order was already cancelled or rejected (a
// tombstone included), ErrConflict when the order ID exists with another body, or a
// *validate.Error. In every error case nothing is written.
func (s *Store) Create(ctx context.Context, req CreateRequest) (Order, bool, error) {
	var v validate.Validator
	validateCreate(&v, req)
	if err := v.Err(); err != nil {
		return Order{}, false, err
	}
	var (
		row     orderRow
		created bool
	)
	err := database.Tx(ctx, s.db, func(tx *gorm.DB) error {
		row = newRow(req, tx.NowFunc())
		// The primary key on order_id is the idempotency guard: only one insert wins.
		ins := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&row)
		if ins.Error != nil {
			return ins.Error
		}
		if ins.RowsAffected == 1 {
			created = true
			return outbox.Add(tx, service, EventOrderCreated, req.OrderID, row.toOrder())
		}
		// An earlier call (or a compensation) decided; answer from the stored row.
		existing, err := take(tx, req.OrderID)
		if err != nil {
			return err
		}
		row = existing
		return decideCreate(row.toOrder(), req)
	})
	if err != nil {
		return Order{}, false, fmt.Errorf("create order %s: %w", req.OrderID, err)
	}
	return row.toOrder(), created, nil
}

// Confirm marks an order COMPLETED, the point of no return, and writes OrderConfirmed.
// Confirming a COMPLETED order again returns it unchanged and writes nothing. A request
// with a view (req.Version above 0) also keeps the saga's final view of the order, as
// SetStatus would, in the same transaction: the saga's last status mirror rides on its
// last step. A view no newer than the order's version changes nothing.
//
// It returns ErrNotFound, ErrCompensated when the order was cancelled or rejected, or a
// *validate.Error for an invalid order ID or view.
func (s *Store) Confirm(ctx context.Context, orderID string, req ConfirmRequest) (Order, error) {
	var v validate.Validator
	domain.ID(orderID).Check(&v, "orderId")
	validateConfirm(&v, req)
	if err := v.Err(); err != nil {
		return Order{}, err
	}
	var o Order
	err := database.Tx(ctx, s.db, func(tx *gorm.DB) error {
		confirmed := false
		var err error
		o, _, err = decide(tx, orderID, func(o Order) (Order, bool, error) {
			o, changed, err := decideConfirm(o)
			confirmed = changed
			if err != nil {
				return o, false, err
			}
			// Without a view (version 0) applyStatus changes nothing.
			o, viewed := applyStatus(o, StatusUpdate{Status: Completed, Version: req.Version, State: req.State})
			return o, changed || viewed, nil
		})
		if err != nil || !confirmed {
			return err
		}
		return outbox.Add(tx, service, EventOrderConfirmed, orderID, o)
	})
	if err != nil {
		return Order{}, fmt.Errorf("confirm order %s: %w", orderID, err)
	}
	return o, nil
}

// Cancel marks an order CANCELLED or REJECTED (req.Status) with the reason, failed step
// and error type of req, and writes OrderCancelled or OrderRejected. Cancelling an order
// that does not exist records a tombstone with that status, which refuses a later Create,
// and writes no event. Cancelling an order that is already cancelled or rejected returns
// it unchanged and writes nothing: the first cancel wins.
//
// It returns ErrCompleted when the order is COMPLETED (nothing changes), or a
// *validate.Error.
func (s *Store) Cancel(ctx context.Context, orderID string, req CancelRequest) (Order, error) {
	var v validate.Validator
	domain.ID(orderID).Check(&v, "orderId")
	validateCancel(&v, req)
	if err := v.Err(); err != nil {
		return Order{}, err
	}
	var o Order
	err := database.Tx(ctx, s.db, func(tx *gorm.DB) error {
		tomb := tombstoneRow(orderID, req, tx.NowFunc())
		ins := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&tomb)
		if ins.Error != nil || ins.RowsAffected == 1 {
			o = tomb.toOrder()
			return ins.Error // the order never existed: the tombstone is the answer
		}
		var (
			changed bool
			err     error
		)
		o, changed, err = decide(tx, orderID, func(o Order) (Order, bool, error) { return decideCancel(o, req) })
		if err != nil || !changed {
			return err
		}
		return outbox.Add(tx, service, cancelEvent(o.Status), orderID, o)
	})
	if err != nil {
		return Order{}, fmt.Errorf("cancel order %s: %w", orderID, err)
	}
	return o, nil
}

// SetStatus mirrors a status of the workflow and its view of the order (see applyStatus):
// a stale or repeated update changes nothing and returns the current order; a newer one
// records the saga's view and moves a non-terminal order to the status, a final
// CANCELLED or REJECTED included (an order whose compensation an operator resolved by
// hand ends that way). It writes OrderCancelled or OrderRejected when it ends an order
// that way, and no event otherwise: the statuses between are the saga's, not the order's.
//
// It returns ErrNotFound, or a *validate.Error for PENDING, a version below 1, or
// a state that is not a JSON object.
func (s *Store) SetStatus(ctx context.Context, orderID string, u StatusUpdate) (Order, error) {
	var v validate.Validator
	domain.ID(orderID).Check(&v, "orderId")
	validateStatusUpdate(&v, u)
	if err := v.Err(); err != nil {
		return Order{}, err
	}
	var o Order
	err := database.Tx(ctx, s.db, func(tx *gorm.DB) error {
		var (
			before  Status
			changed bool
			err     error
		)
		o, changed, err = decide(tx, orderID, func(o Order) (Order, bool, error) {
			before = o.Status
			next, changed := applyStatus(o, u)
			return next, changed, nil
		})
		if err != nil || !changed || before == o.Status || (o.Status != Cancelled && o.Status != Rejected) {
			return err
		}
		return outbox.Add(tx, service, cancelEvent(o.Status), orderID, o)
	})
	if err != nil {
		return Order{}, fmt.Errorf("set status of order %s: %w", orderID, err)
	}
	return o, nil
}

// decide locks an order's row, asks fn what becomes of the order, and writes that when it
// changed. It returns the order as it is now and whether this call changed it, or fn's
// refusal (which rolls back).
func decide(tx *gorm.DB, orderID string, fn func(Order) (Order, bool, error)) (Order, bool, error) {
	row, err := database.Lock[orderRow](tx, "order_id", orderID, ErrNotFound)
	if err != nil {
		return Order{}, false, err
	}
	o, changed, err := fn(row.toOrder())
	if err != nil || !changed {
		return o, false, err
	}
	o.UpdatedAt = tx.NowFunc().UTC()
	err = tx.Model(&orderRow{}).Where("order_id = ?", orderID).Updates(map[string]any{
		"status": string(o.Status), "reason": o.Reason, "failed_step": o.FailedStep, "error_type": o.ErrorType,
		"version": o.Version, "state": string(o.State), "updated_at": o.UpdatedAt,
	}).Error
	return o, err == nil, err
}

// Get returns an order, or ErrNotFound.
func (s *Store) Get(ctx context.Context, orderID string) (Order, error) {
	if !domain.ID(orderID).Valid() { // such an ID cannot exist; do not send it to the database
		return Order{}, fmt.Errorf("order %q: %w", orderID, ErrNotFound)
	}
	row, err := database.Get[orderRow](ctx, s.db, "order_id", orderID, ErrNotFound)
	if err != nil {
		return Order{}, err
	}
	return row.toOrder(), nil
}

// List returns a page of orders, newest first (ties broken by order ID, descending),
// filtered by customer and status when those are set. Pass the page's NextCursor as
// q.Cursor to get the next page; orders created meanwhile do not shift the pages.
//
// It returns a *validate.Error for an invalid customer ID, status, limit (1 to
// MaxLimit; 0 means DefaultLimit) or cursor.
func (s *Store) List(ctx context.Context, q ListQuery) (Page, error) {
	var v validate.Validator
	v.Check(q.CustomerID == "" || domain.ID(q.CustomerID).Valid(), "customerId", domain.IDRule)
	v.Check(q.Status == "" || q.Status.Valid(), "status", "must be an order status")
	v.Check(q.Limit >= 0 && q.Limit <= MaxLimit, "limit", "must be between 1 and 100")
	after, afterOK := decodeCursor(q.Cursor)
	v.Check(q.Cursor == "" || afterOK, "cursor", "is not a cursor returned by this list")
	if err := v.Err(); err != nil {
		return Page{}, err
	}
	limit := cmp.Or(q.Limit, DefaultLimit)

	db := s.db.WithContext(ctx)
	if q.CustomerID != "" {
		db = db.Where("customer_id = ?", q.CustomerID)
	}
	if q.Status != "" {
		db = db.Where("status = ?", string(q.Status))
	}
	if q.Cursor != "" {
		// A row-value comparison, which both databases can answer from the index.
		db = db.Where("(created_micros, order_id) < (?, ?)", after.micros, after.orderID)
	}
	var rows []orderRow
	err := database.Read(ctx, func() error {
		rows = nil
		return db.Order("created_micros DESC, order_id DESC").Limit(limit + 1).Find(&rows).Error
	})
	if err != nil {
		return Page{}, fmt.Errorf("list orders: %w", err)
	}
	page := Page{Orders: make([]Order, 0, min(len(rows), limit))}
	if len(rows) > limit {
		rows = rows[:limit]
		last := rows[limit-1]
		page.NextCursor = cursor{micros: last.CreatedMicros, orderID: last.OrderID}.encode()
	}
	for _, r := range rows {
		page.Orders = append(page.Orders, r.toOrder())
	}
	return page, nil
}

// cursor is the sort key of the last order of a page.
type cursor struct {
	micros  int64
	orderID string
}

// encode returns the cursor as opaque URL-safe text: base64url of "<micros>:<orderId>".
func (c cursor) encode() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.micros, 10) + ":" + c.orderID))
}

// decodeCursor parses an encoded cursor; it reports false for anything encode did not
// produce (an empty string included).
func decodeCursor(s string) (cursor, bool) {
	if s == "" || len(s) > 200 {
		return cursor{}, false
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, false
	}
	micros, id, ok := strings.Cut(string(b), ":")
	if !ok || !domain.ID(id).Valid() {
		return cursor{}, false
	}
	n, err := strconv.ParseInt(micros, 10, 64)
	if err != nil || n < 0 {
		return cursor{}, false
	}
	return cursor{micros: n, orderID: id}, true
}

// take loads one order row, or returns ErrNotFound.
func take(tx *gorm.DB, orderID string) (orderRow, error) {
	return database.Take[orderRow](tx, "order_id", orderID, ErrNotFound)
}
