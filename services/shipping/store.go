package shipping

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/ordersaga/ordersaga/domain"
	"github.com/ordersaga/ordersaga/internal/database"
	"github.com/ordersaga/ordersaga/internal/outbox"
	"github.com/ordersaga/ordersaga/internal/validate"
)

// shipmentRow is the shipments table: one row per order, which is what makes scheduling
// idempotent. The address is kept in columns, the items as JSON. A VOIDED tombstone has
// empty address, carrier and tracking columns and no items.
type shipmentRow struct {
	OrderID        string `gorm:"primaryKey;size:100"`
	Status         string `gorm:"not null;size:16;check:chk_shipments_status,status IN ('SCHEDULED', 'CANCELLED', 'VOIDED')"`
	Carrier        string `gorm:"not null;size:16"`
	TrackingNumber string `gorm:"not null;size:32"`
	AddressName    string `gorm:"not null"`
	AddressLine1   string `gorm:"not null"`
	AddressCity    string `gorm:"not null"`
	PostalCode     string `gorm:"not null"`
	Country        string `gorm:"not null;size:2"`
	Items          []Item `gorm:"serializer:json;type:text;not null"`
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

func (shipmentRow) TableName() string { return "shipments" }

func (r shipmentRow) toShipment() Shipment {
	items := r.Items
	if items == nil {
		items = []Item{}
	}
	return Shipment{
		OrderID:        r.OrderID,
		Status:         Status(r.Status),
		Carrier:        r.Carrier,
		TrackingNumber: r.TrackingNumber,
		Address: Address{Name: r.AddressName, Line1: r.AddressLine1, City: r.AddressCity,
			PostalCode: r.PostalCode, Country: r.Country},
		Items:     items,
		CreatedAt: r.CreatedAt,
		UpdatedAt: r.UpdatedAt,
	}
}

// Store keeps shipments in a GORM database.
type Store struct {
	db *gorm.DB
}

// NewStore creates the shipments table and the outbox when missing. The service has no
// seed data: the served countries and carriers are part of the code.
func NewStore(ctx context.Context, db *gorm.DB) (*Store, error) {
	err := database.Migrate(ctx, db, service, func(tx *gorm.DB) error {
		if err := tx.AutoMigrate(&shipmentRow{}); err != nil {
			return err
		}
		return outbox.Migrate(tx)
	})
	if err != nil {
		return nil, fmt.Errorf("migrate shipping tables: %w", err)
	}
	return &Store{db: db}, nil
}

// Schedule schedules the shipment of an order, and reports whether this call scheduled it,
// which then writes ShipmentScheduled; repeating it with the same address and items
// returns the first shipment and writes nothing.
//
// It returns ErrShippingUnavailable when no carrier delivers to the address (nothing
// written), ErrConflict when the order was scheduled to another address or with other
// items, ErrCompensated when the order's shipment was already cancelled or voided, or a
// *validate.Error.
func (s *Store) Schedule(ctx context.Context, req ScheduleRequest) (Shipment, bool, error) {
	var v validate.Validator
	validateRequest(&v, req)
	if err := v.Err(); err != nil {
		return Shipment{}, false, err
	}
	if why := served(req.Address); why != "" {
		return Shipment{}, false, fmt.Errorf("schedule shipping for order %s: %w: %s", req.OrderID, ErrShippingUnavailable, why)
	}
	a := req.Address
	row := shipmentRow{
		OrderID:        req.OrderID,
		Status:         string(Scheduled),
		Carrier:        Carrier(a.Country),
		TrackingNumber: TrackingNumber(req.OrderID),
		AddressName:    a.Name,
		AddressLine1:   a.Line1,
		AddressCity:    a.City,
		PostalCode:     a.PostalCode,
		Country:        a.Country,
		Items:          req.Items,
	}
	var created bool
	err := database.Tx(ctx, s.db, func(tx *gorm.DB) error {
		// The primary key on order_id is the idempotency guard: only one insert wins, and a
		// tombstone left by an earlier cancel makes the insert do nothing.
		res := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&row)
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		created = true
		return outbox.Add(tx, service, EventShipmentScheduled, req.OrderID, row.toShipment())
	})
	if err != nil {
		return Shipment{}, false, fmt.Errorf("schedule shipping for order %s: %w", req.OrderID, err)
	}
	if created {
		return row.toShipment(), true, nil
	}
	existing, err := s.Shipment(ctx, req.OrderID)
	if err != nil {
		return Shipment{}, false, err
	}
	if err := decideSchedule(existing, req); err != nil {
		return existing, false, fmt.Errorf("schedule shipping for order %s: %w", req.OrderID, err)
	}
	return existing, false, nil
}

// Cancel cancels an order's shipment, once, and writes ShipmentCancelled. Cancelling an
// order that was never scheduled records a VOIDED tombstone. Cancelling again returns the
// cancelled (or voided) shipment unchanged. Neither writes an event. It returns a
// *validate.Error for an invalid order ID.
func (s *Store) Cancel(ctx context.Context, orderID string) (Shipment, error) {
	var v validate.Validator
	domain.ID(orderID).Check(&v, "orderId")
	if err := v.Err(); err != nil {
		return Shipment{}, err
	}
	err := database.Tx(ctx, s.db, func(tx *gorm.DB) error {
		tomb := tx.Clauses(clause.OnConflict{DoNothing: true}).
			Create(&shipmentRow{OrderID: orderID, Status: string(Voided), Items: []Item{}})
		if tomb.Error != nil || tomb.RowsAffected == 1 {
			return tomb.Error
		}
		row, err := database.Lock[shipmentRow](tx, "order_id", orderID, ErrNotFound)
		if err != nil {
			return err
		}
		next := decideCancel(row.toShipment())
		if next == Status(row.Status) {
			return nil
		}
		row.Status, row.UpdatedAt = string(next), tx.NowFunc()
		err = tx.Model(&shipmentRow{}).Where("order_id = ?", orderID).
			Updates(map[string]any{"status": row.Status, "updated_at": row.UpdatedAt}).Error
		if err != nil {
			return err
		}
		return outbox.Add(tx, service, EventShipmentCancelled, orderID, row.toShipment())
	})
	if err != nil {
		return Shipment{}, fmt.Errorf("cancel shipping for order %s: %w", orderID, err)
	}
	return s.Shipment(ctx, orderID)
}

// Shipment returns an order's shipment, or ErrNotFound (also for a malformed order ID,
// which no shipment can have).
func (s *Store) Shipment(ctx context.Context, orderID string) (Shipment, error) {
	if !domain.ID(orderID).Valid() {
		return Shipment{}, fmt.Errorf("shipment for order %q: %w", orderID, ErrNotFound)
	}
	row, err := database.Get[shipmentRow](ctx, s.db, "order_id", orderID, ErrNotFound)
	if err != nil {
		return Shipment{}, fmt.Errorf("shipment for order: %w", err)
	}
	return row.toShipment(), nil
}
