package payment_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/ordersaga/ordersaga/internal/problem"
	"github.com/ordersaga/ordersaga/internal/servicetest"
	"github.com/ordersaga/ordersaga/services/payment"
)

// FuzzPaymentHandler drives the payment service's HTTP API (payment.New over a fresh
// SQLite database holding two customers with a coupon each, with fault injection on and
// reset after every request) with a method, a target (path and query after the leading
// slash), a body and its Content-Type. Properties: no panic, no 5xx but the designed 503
// of a charge with the flaky test card (payment.MethodFlaky), and every 4xx (and that
// 503) is a problem document of the same status.
//
// Run it for longer with: go test -run '^$' -fuzz FuzzPaymentHandler -fuzztime 5m ./services/payment
func FuzzPaymentHandler(f *testing.F) {
	const charge = `{"orderId":"o-1","customerId":"cust-1","amountCents":3800,"currency":"USD","paymentMethod":"pm_card_visa"}`
	const redeem = `{"orderId":"o-r1","customerId":"cust-1","code":"WELCOME10","subtotalCents":3000,"currency":"USD"}`
	for _, s := range []struct {
		method, target, body, contentType string
	}{
		{"POST", "payments", charge, "application/json"},
		{"POST", "payments", charge, "application/json; charset=utf-8"},
		{"POST", "payments", strings.Replace(charge, "o-1", "o-2", 1), "application/json"},
		{"POST", "payments", `{"orderId":"o-3","customerId":"cust-1","amountCents":3800,"currency":"USD","paymentMethod":"pm_card_declined"}`, "application/json"},
		{"POST", "payments", `{"orderId":"o-4","customerId":"cust-1","amountCents":100,"currency":"USD","paymentMethod":"pm_card_flaky"}`, "application/json"},
		{"POST", "payments", `{"orderId":"o-5","customerId":"cust-2","amountCents":9223372036854775807,"currency":"USD","paymentMethod":"pm_card_visa"}`, "application/json"},
		{"POST", "payments", `{"orderId":"o-6","customerId":"cust-1","amountCents":-1,"currency":"usd","paymentMethod":"\u0000"}`, "application/json"},
		{"POST", "payments", `{"orderId":"o-7","customerId":"nobody","amountCents":1,"currency":"USD","paymentMethod":"pm_card_visa"}`, "application/json"},
		{"POST", "payments", `{"amountCents":"3800"}`, "application/json"},
		{"GET", "payments/o-1", "", ""},
		{"POST", "payments/o-1/refund", "", ""},
		{"POST", "payments/o-9/refund", "", ""},
		{"GET", "customers/cust-1", "", ""},
		{"GET", "customers/%F0%9F%9A%80", "", ""},
		{"PUT", "customers/cust-3", `{"balanceCents":1000000000000000}`, "application/json"},
		{"PUT", "customers/cust-3", `{"balanceCents":1000000000000001}`, "application/json"},
		{"PUT", "customers/cust-3", `{"balanceCents":null}`, "application/json"},
		{"PUT", "customers/cust-3", `{"balanceCents":-9223372036854775808}`, "application/json"},
		{"PUT", "admin/faults", `{"errorRate":0.5,"operations":["refund"]}`, "application/json"},
		{"POST", "coupons/redemptions", redeem, "application/json"},
		{"POST", "coupons/redemptions", strings.Replace(redeem, "3000", "9223372036854775807", 1), "application/json"},
		{"POST", "coupons/redemptions", `{"orderId":"o-r2","customerId":"cust-2","code":"WELCOME10","subtotalCents":0,"currency":"USD"}`, "application/json"},
		{"POST", "coupons/redemptions", `{"orderId":"o-r3","customerId":"cust-1","code":"welcome\u0000","subtotalCents":-1,"currency":"usd"}`, "application/json"},
		{"POST", "coupons/redemptions/o-r1/restore", "", ""},
		{"POST", "coupons/redemptions/o-r9/restore", "", ""},
		{"GET", "coupons/redemptions/o-r1", "", ""},
		{"GET", "customers/cust-1/coupons", "", ""},
		{"GET", "customers/%00/coupons", "", ""},
		{"PUT", "customers/cust-1/coupons/SAVE5", `{"kind":"FIXED","value":500,"minTotalCents":2000,"expiresAt":"2030-01-01T00:00:00+14:00"}`, "application/json"},
		{"PUT", "customers/cust-1/coupons/MAX", `{"kind":"FIXED","value":1000000000000,"expiresAt":"9999-12-31T23:59:59Z"}`, "application/json"},
		{"PUT", "customers/cust-1/coupons/BAD", `{"kind":"PERCENT","value":101,"expiresAt":"0000-01-01T00:00:00Z"}`, "application/json"},
		{"PUT", "customers/nobody/coupons/HI", `{"kind":"PERCENT","value":1}`, "application/json"},
		{"PUT", "admin/faults", `{"down":true,"operations":["redeem","restore"]}`, "application/json"},
	} {
		f.Add(s.method, s.target, []byte(s.body), s.contentType)
	}

	svc := servicetest.NewFuzzed(f, payment.Operations, payment.New)
	for _, c := range []string{"cust-1", "cust-2"} {
		if rec := svc.Serve("PUT", "/customers/"+c, []byte(`{"balanceCents":100000}`), "application/json"); rec.Code >= 300 {
			f.Fatalf("create %s: %d %s", c, rec.Code, rec.Body)
		}
		if rec := svc.Serve("PUT", "/customers/"+c+"/coupons/WELCOME10", []byte(`{"kind":"PERCENT","value":10}`), "application/json"); rec.Code >= 300 {
			f.Fatalf("give %s a coupon: %d %s", c, rec.Code, rec.Body)
		}
	}
	// A charge with the flaky test card fails its first attempts with a 503 by design.
	flaky := func(method, path string, p problem.Problem) bool {
		return method == http.MethodPost && path == "/payments" && p.Status == http.StatusServiceUnavailable &&
			p.Code == "ServiceUnavailable" && strings.Contains(p.Detail, payment.MethodFlaky)
	}
	f.Fuzz(func(t *testing.T, method, target string, body []byte, contentType string) {
		svc.Check(t, method, target, body, contentType, flaky)
	})
}
