package inventory

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/ordersaga/ordersaga/domain"
	"github.com/ordersaga/ordersaga/internal/database"
	"github.com/ordersaga/ordersaga/internal/outbox"
	"github.com/ordersaga/ordersaga/internal/validate"
)

// productRow is the products table.
type productRow struct {
	SKU        string `gorm:"primaryKey;size:100"`
	Name       string `gorm:"not null"`
	PriceCents int64  `gorm:"not null"`
	Available  int    `gorm:"not null;check:available >= 0"`
	Reserved   int    `gorm:"not null;check:reserved >= 0"`
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

func (productRow) TableName() string { return "products" }

func (r productRow) toProduct() Product {
	return Product{SKU: r.SKU, Name: r.Name, PriceCents: r.PriceCents, Available: r.Available, Reserved: r.Reserved}
}

// reservationRow is the reservations table: one row per order, which is what makes
// reserving idempotent. Items are stored as JSON.
type reservationRow struct {
	OrderID   string `gorm:"primaryKey;size:100"`
	Status    string `gorm:"not null;size:16"`
	Items     []Item `gorm:"serializer:json;type:text;not null"`
	CreatedAt time.Time
	UpdatedAt time.Time
}

func (reservationRow) TableName() string { return "reservations" }

func (r reservationRow) toReservation() Reservation {
	items := r.Items
	if items == nil {
		items = []Item{}
	}
	return Reservation{OrderID: r.OrderID, Status: ReservationStatus(r.Status), Items: items,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// SeedProducts is the catalogue loaded on start.
var SeedProducts = []Product{
	{SKU: "SKU-BOOK", Name: "Book", PriceCents: 1500, Available: 100},
	{SKU: "SKU-MUG", Name: "Mug", PriceCents: 800, Available: 100},
	{SKU: "SKU-LAPTOP", Name: "Laptop", PriceCents: 120000, Available: 10},
	{SKU: "SKU-RARE", Name: "Rare print", PriceCents: 5000, Available: 1},
	{SKU: "SKU-SOLDOUT", Name: "Sold-out poster", PriceCents: 2500, Available: 0},
}

// maxStock bounds a product's available stock.
const maxStock = 1_000_000

// Store keeps products and reservations in a GORM database.
type Store struct {
	db *gorm.DB
}

// NewStore creates the tables, the outbox included, when missing.
func NewStore(ctx context.Context, db *gorm.DB) (*Store, error) {
	err := database.Migrate(ctx, db, service, func(tx *gorm.DB) error {
		if err := tx.AutoMigrate(&productRow{}, &reservationRow{}); err != nil {
			return fmt.Errorf("migrate inventory tables: %w", err)
		}
		if err := outbox.Migrate(tx); err != nil {
			return fmt.Errorf("migrate inventory outbox: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &Store{db: db}, nil
}

// Seed loads the demo catalogue, SeedProducts, into db (after NewStore made the tables),
// leaving products that already exist as they are: only when SEED_DEMO_DATA asks for it.
func Seed(ctx context.Context, db *gorm.DB) error {
	rows := make([]productRow, len(SeedProducts))
	for i, p := range SeedProducts {
		rows[i] = productRow{SKU: p.SKU, Name: p.Name, PriceCents: p.PriceCents, Available: p.Available}
	}
	if err := db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&rows).Error; err != nil {
		return fmt.Errorf("seed products: %w", err)
	}
	return nil
}

// Products returns the catalogue ordered by SKU.
func (s *Store) Products(ctx context.Context) ([]Product, error) {
	var rows []productRow
	err := database.Read(ctx, func() error { return s.db.WithContext(ctx).Order("sku").Find(&rows).Error })
	if err != nil {
		return nil, fmt.Errorf("list products: %w", err)
	}
	out := make([]Product, len(rows))
	for i, r := range rows {
		out[i] = r.toProduct()
	}
	return out, nil
}

// Product returns one product, or ErrNotFound.
func (s *Store) Product(ctx context.Context, sku string) (Product, error) {
	if !domain.ID(sku).Valid() { // no such SKU can exist; do not send it to the database
		return Product{}, fmt.Errorf("product %q: %w", sku, ErrNotFound)
	}
	row, err := database.Get[productRow](ctx, s.db, "sku", sku, ErrNotFound)
	if err != nil {
		return Product{}, fmt.Errorf("product: %w", err)
	}
	return row.toProduct(), nil
}

// UpsertProduct creates the product sku or updates the fields set in u, and reports
// whether it was created. A new product needs a name and a price (*validate.Error).
//
// An update writes only the fields it was given, in one conditional statement: a price
// change never writes the stock back, and a restock sets the available stock under the
// row's lock, so a reservation or release committing at the same time is never lost.
// The reserved stock is never touched.
func (s *Store) UpsertProduct(ctx context.Context, sku string, u ProductUpdate) (Product, bool, error) {
	var v validate.Validator
	domain.SKU(sku).Check(&v, "sku")
	if u.PriceCents != nil {
		domain.Cents(*u.PriceCents).CheckPrice(&v, "priceCents")
	}
	v.Check(u.Available == nil || (*u.Available >= 0 && *u.Available <= maxStock), "available", "must be between 0 and 1000000")
	domain.ProductName.Check(&v, "name", u.Name)
	if err := v.Err(); err != nil {
		return Product{}, false, err
	}
	var (
		row     productRow
		created bool
	)
	err := database.Tx(ctx, s.db, func(tx *gorm.DB) error {
		now := tx.NowFunc()
		if u.Name != "" && u.PriceCents != nil {
			// The primary key decides between concurrent creates: one inserts, the others update.
			row = productRow{SKU: sku, Name: u.Name, PriceCents: *u.PriceCents, CreatedAt: now, UpdatedAt: now}
			if u.Available != nil {
				row.Available = *u.Available
			}
			ins := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&row)
			if ins.Error != nil {
				return ins.Error
			}
			created = ins.RowsAffected == 1
		}
		if !created {
			fields := map[string]any{"updated_at": now}
			if u.Name != "" {
				fields["name"] = u.Name
			}
			if u.PriceCents != nil {
				fields["price_cents"] = *u.PriceCents
			}
			if u.Available != nil {
				fields["available"] = *u.Available
			}
			upd := tx.Model(&productRow{}).Where("sku = ?", sku).Updates(fields)
			if upd.Error != nil {
				return upd.Error
			}
			if upd.RowsAffected == 0 {
				var v validate.Validator
				v.Check(u.Name != "", "name", "is required for a new product")
				v.Check(u.PriceCents != nil, "priceCents", "is required for a new product")
				return v.Err()
			}
		}
		return tx.Take(&row, "sku = ?", sku).Error
	})
	if err != nil {
		return Product{}, false, fmt.Errorf("upsert product %s: %w", sku, err)
	}
	return row.toProduct(), created, nil
}

// Quote prices items at the current catalogue prices. It returns ErrUnknownProduct when a
// SKU is not in the catalogue, or a *validate.Error for invalid items.
func (s *Store) Quote(ctx context.Context, items []Item) (Quote, error) {
	var v validate.Validator
	validateItems(&v, items)
	if err := v.Err(); err != nil {
		return Quote{}, err
	}
	var products map[string]productRow
	err := database.Read(ctx, func() (err error) {
		products, err = s.productsFor(s.db.WithContext(ctx), items)
		return err
	})
	if err != nil {
		return Quote{}, err
	}
	q := Quote{Items: make([]QuotedItem, len(items)), Currency: Currency}
	for i, it := range items {
		p := products[it.SKU]
		q.Items[i] = QuotedItem{SKU: it.SKU, Name: p.Name, Quantity: it.Quantity, UnitPriceCents: p.PriceCents}
		q.TotalCents += p.PriceCents * int64(it.Quantity)
	}
	return q, nil
}

// productsFor loads the products of items, or returns ErrUnknownProduct naming the SKUs
// that do not exist.
func (s *Store) productsFor(tx *gorm.DB, items []Item) (map[string]productRow, error) {
	skus := make([]string, len(items))
	for i, it := range items {
		skus[i] = it.SKU
	}
	var rows []productRow
	if err := tx.Where("sku IN ?", skus).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("load products: %w", err)
	}
	found := make(map[string]productRow, len(rows))
	for _, r := range rows {
		found[r.SKU] = r
	}
	var missing []string
	for _, sku := range skus {
		if _, ok := found[sku]; !ok {
			missing = append(missing, sku)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrUnknownProduct, strings.Join(missing, ", "))
	}
	return found, nil
}

// Reserve holds stock for all of an order's items, or for none. It reports whether this
// call made the reservation, which then writes StockReserved; repeating it with the same
// items returns the first result and writes nothing.
//
// It returns ErrOutOfStock or ErrUnknownProduct (nothing changed), ErrConflict when the
// order reserved other items, ErrCompensated when the order's reservation was already
// released or voided, or a *validate.Error.
func (s *Store) Reserve(ctx context.Context, orderID string, items []Item) (Reservation, bool, error) {
	var v validate.Validator
	domain.ID(orderID).Check(&v, "orderId")
	validateItems(&v, items)
	if err := v.Err(); err != nil {
		return Reservation{}, false, err
	}
	sorted := bySKU(items)

	row := reservationRow{OrderID: orderID, Status: string(Reserved), Items: items}
	var created bool
	err := database.Tx(ctx, s.db, func(tx *gorm.DB) error {
		// The primary key on order_id is the idempotency guard: only one insert wins.
		res := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&row)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return nil // an earlier call decided; answered below from the stored row
		}
		for _, it := range sorted {
			upd := tx.Model(&productRow{}).
				Where("sku = ? AND available >= ?", it.SKU, it.Quantity).
				Updates(map[string]any{
					"available":  gorm.Expr("available - ?", it.Quantity),
					"reserved":   gorm.Expr("reserved + ?", it.Quantity),
					"updated_at": tx.NowFunc(),
				})
			if upd.Error != nil {
				return upd.Error
			}
			if upd.RowsAffected == 0 {
				// Short of stock or not in the catalogue: only now is the catalogue read,
				// so that a reservation that succeeds costs no read. Unknown SKUs, all of
				// them named, come before short stock, whichever item met which first.
				if _, err := s.productsFor(tx, sorted); err != nil {
					return err
				}
				return fmt.Errorf("%w: %s has fewer than %d available", ErrOutOfStock, it.SKU, it.Quantity)
			}
		}
		created = true
		return outbox.Add(tx, service, EventStockReserved, orderID, row.toReservation())
	})
	if err != nil {
		return Reservation{}, false, fmt.Errorf("reserve for order %s: %w", orderID, err)
	}
	if created {
		return row.toReservation(), true, nil
	}
	existing, err := s.Reservation(ctx, orderID)
	if err != nil {
		return Reservation{}, false, err
	}
	if err := decideReserve(existing, items); err != nil {
		return existing, false, fmt.Errorf("reserve for order %s: %w", orderID, err)
	}
	return existing, false, nil
}

// Release returns an order's reserved stock, once, and writes StockReleased. Releasing an
// order that never reserved records a VOIDED tombstone. Releasing again returns the
// released (or voided) reservation. Neither writes an event.
func (s *Store) Release(ctx context.Context, orderID string) (Reservation, error) {
	var v validate.Validator
	domain.ID(orderID).Check(&v, "orderId")
	if err := v.Err(); err != nil {
		return Reservation{}, err
	}
	err := database.Tx(ctx, s.db, func(tx *gorm.DB) error {
		tomb := tx.Clauses(clause.OnConflict{DoNothing: true}).
			Create(&reservationRow{OrderID: orderID, Status: string(Voided), Items: []Item{}})
		if tomb.Error != nil || tomb.RowsAffected == 1 {
			return tomb.Error
		}
		row, err := database.Lock[reservationRow](tx, "order_id", orderID, ErrNotFound)
		if err != nil {
			return err
		}
		next, restock := decideRelease(row.toReservation())
		if !restock {
			return nil
		}
		row.Status, row.UpdatedAt = string(next), tx.NowFunc()
		upd := tx.Model(&reservationRow{}).Where("order_id = ?", orderID).
			Updates(map[string]any{"status": row.Status, "updated_at": row.UpdatedAt})
		if upd.Error != nil {
			return upd.Error
		}
		for _, it := range bySKU(row.Items) {
			err := tx.Model(&productRow{}).Where("sku = ?", it.SKU).Updates(map[string]any{
				"available":  gorm.Expr("available + ?", it.Quantity),
				"reserved":   gorm.Expr("reserved - ?", it.Quantity),
				"updated_at": tx.NowFunc(),
			}).Error
			if err != nil {
				return err
			}
		}
		return outbox.Add(tx, service, EventStockReleased, orderID, row.toReservation())
	})
	if err != nil {
		return Reservation{}, fmt.Errorf("release for order %s: %w", orderID, err)
	}
	return s.Reservation(ctx, orderID)
}

// Reservation returns an order's reservation, or ErrNotFound.
func (s *Store) Reservation(ctx context.Context, orderID string) (Reservation, error) {
	if !domain.ID(orderID).Valid() {
		return Reservation{}, fmt.Errorf("reservation for order %q: %w", orderID, ErrNotFound)
	}
	row, err := database.Get[reservationRow](ctx, s.db, "order_id", orderID, ErrNotFound)
	if err != nil {
		return Reservation{}, fmt.Errorf("reservation for order: %w", err)
	}
	return row.toReservation(), nil
}
