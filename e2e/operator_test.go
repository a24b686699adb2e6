package e2e

import (
	"net/http"
	"testing"

	"github.com/ordersaga/ordersaga/saga"
)

// TestOperatorEndpointsNeedAToken checks every operator endpoint of the real API: no
// token → 401, a wrong token → 403, the right token → let through (the request then
// answers for itself).
func TestOperatorEndpointsNeedAToken(t *testing.T) {
	each(t, func(t *testing.T, s *stack) {
		done := s.place(t, orderRequest(s.newCustomer(t, 100000), "pm_card_visa", "US", "SKU-MUG:1"))
		if done.Status != saga.StatusCompleted {
			t.Fatalf("order = %s", done.Status)
		}
		sku := s.newProduct(t, 100, 1)
		routes := []struct {
			path     string
			method   string
			body     any
			accepted int // the answer once authorised
		}{
			{"/v1/orders/" + done.OrderID + "/approve", http.MethodPost, nil, http.StatusConflict},
			{"/v1/orders/" + done.OrderID + "/reject", http.MethodPost, nil, http.StatusConflict},
			{"/v1/orders/" + done.OrderID + "/retry-compensations", http.MethodPost, nil, http.StatusConflict},
			{"/v1/orders/" + done.OrderID + "/resolve-manually", http.MethodPost, map[string]string{"note": "n/a"}, http.StatusConflict},
			{"/v1/products/" + sku, http.MethodPut, map[string]int{"available": 2}, http.StatusOK},
		}
		for _, r := range routes {
			t.Run(r.method+" "+r.path, func(t *testing.T) {
				if got := s.call(t, r.method, r.path, r.body); got.status != http.StatusUnauthorized ||
					got.problem(t).Code != "Unauthorized" || got.header.Get("WWW-Authenticate") == "" {
					t.Errorf("without a token: %d %s %v, want 401 with WWW-Authenticate", got.status, got.body, got.header)
				}
				if got := s.call(t, r.method, r.path, r.body, "Authorization", "Bearer not-the-token"); got.status != http.StatusForbidden {
					t.Errorf("with a wrong token: %d %s, want 403", got.status, got.body)
				}
				if got := s.call(t, r.method, r.path, r.body, "Authorization", "Bearer "+operatorToken); got.status != r.accepted {
					t.Errorf("with the operator token: %d %s, want %d", got.status, got.body, r.accepted)
				}
			})
		}
		if p := s.product(t, sku); p.Available != 2 {
			t.Errorf("the authorised restock left %s at %d, want 2", sku, p.Available)
		}
		s.mu.Lock()
		s.initialStock[sku] = 2 // a restock moves the baseline of the stock invariant
		s.mu.Unlock()
	})
}
