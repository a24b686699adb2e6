package loadgen

import (
	"context"
	"fmt"
	"strings"

	"github.com/ordersaga/ordersaga/books"
	"github.com/ordersaga/ordersaga/services/inventory"
	"github.com/ordersaga/ordersaga/services/payment"
)

// Provision creates what a run's orders use, through the services: a cheap product with
// stock for every order, a sold-out one, one priced for approval, and one customer per
// concurrent client with a balance that covers everything, all named after runID, so
// that no other orders touch them and the books balance. It returns the catalogue and
// the opening of the books.
func Provision(ctx context.Context, inv *inventory.Client, pay *payment.Client, runID string, orders, customers int) (Catalog, books.Opening, error) {
	run := strings.ToUpper(runID)
	cat := Catalog{SKU: "LOAD-" + run + "-A", SoldOutSKU: "LOAD-" + run + "-SOLDOUT", BigSKU: "LOAD-" + run + "-BIG"}
	open := books.Opening{Stock: map[string]int{}, Balances: map[string]int64{}}
	products := []struct {
		sku   string
		name  string
		price int64
		stock int
	}{
		{cat.SKU, "Load test item", 700, orders * 3},
		{cat.SoldOutSKU, "Load test sold-out item", 2500, 0},
		{cat.BigSKU, "Load test large item", 150_000, orders},
	}
	for _, p := range products {
		if _, err := inv.UpsertProduct(ctx, p.sku, inventory.ProductUpdate{Name: p.name, PriceCents: &p.price, Available: &p.stock}); err != nil {
			return Catalog{}, books.Opening{}, fmt.Errorf("create product %s: %w", p.sku, err)
		}
		open.Stock[p.sku] = p.stock
	}
	const balance = 10_000_000_000 // a hundred million dollars: covers any run
	for i := range customers {
		id := fmt.Sprintf("load-%s-%d", runID, i)
		if _, err := pay.UpsertCustomer(ctx, id, payment.CustomerUpdate{BalanceCents: balance}); err != nil {
			return Catalog{}, books.Opening{}, fmt.Errorf("create customer %s: %w", id, err)
		}
		cat.Customers = append(cat.Customers, id)
		open.Balances[id] = balance
	}
	return cat, open, nil
}
