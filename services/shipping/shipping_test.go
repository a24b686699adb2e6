package shipping_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"gorm.io/gorm"

	"github.com/ordersaga/ordersaga/internal/database"
	"github.com/ordersaga/ordersaga/internal/database/dbtest"
	"github.com/ordersaga/ordersaga/internal/faults"
	"github.com/ordersaga/ordersaga/internal/httpx"
	"github.com/ordersaga/ordersaga/internal/servicetest"
	"github.com/ordersaga/ordersaga/internal/validate"
	"github.com/ordersaga/ordersaga/services/shipping"
)

// service is a shipping service on a real database, served over real HTTP.
type service struct {
	url    string
	client *shipping.Client
	db     *gorm.DB
}

func start(t *testing.T, cfg database.Config) service {
	t.Helper()
	db := servicetest.Open(t, cfg)
	url := servicetest.Serve(t, db, shipping.Operations, shipping.New)
	return service{url: url, client: shipping.NewClient(url, nil), db: db}
}

// shipment returns an order's shipment, failing the test when it cannot.
func (s service) shipment(t *testing.T, orderID string) shipping.Shipment {
	t.Helper()
	sh, err := s.client.Shipment(context.Background(), orderID)
	if err != nil {
		t.Fatalf("get shipment %s: %v", orderID, err)
	}
	return sh
}

// rows counts the rows of the shipments table whose order ID starts with prefix.
func (s service) rows(t *testing.T, prefix string) int64 {
	t.Helper()
	var n int64
	if err := s.db.Table("shipments").Where("order_id LIKE ?", prefix+"%").Count(&n).Error; err != nil {
		t.Fatalf("count shipments: %v", err)
	}
	return n
}

// call sends body (JSON, when not nil) to method path and returns the status and the body.
func (s service) call(t *testing.T, method, path string, body any) (int, []byte) {
	t.Helper()
	status, data, err := s.send(method, path, body)
	if err != nil {
		t.Fatal(err)
	}
	return status, data
}

// send is call for goroutines other than the test's: it returns its error.
func (s service) send(method, path string, body any) (int, []byte, error) {
	var in io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		in = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.url+path, in)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, err
}

// schedule posts req over plain HTTP and returns the status with the decoded shipment.
func (s service) schedule(t *testing.T, req shipping.ScheduleRequest) (int, shipping.Shipment) {
	t.Helper()
	status, data := s.call(t, http.MethodPost, "/shipments", req)
	var sh shipping.Shipment
	if status < 300 {
		if err := json.Unmarshal(data, &sh); err != nil {
			t.Fatalf("decode shipment: %v (%s)", err, data)
		}
	}
	return status, sh
}

func request(orderID, country, postalCode string) shipping.ScheduleRequest {
	return shipping.ScheduleRequest{
		OrderID: orderID,
		Address: shipping.Address{Name: "Ada Lovelace", Line1: "1 Main St", City: "Springfield",
			PostalCode: postalCode, Country: country},
		Items: []shipping.Item{{SKU: "SKU-BOOK", Quantity: 2}, {SKU: "SKU-MUG", Quantity: 1}},
	}
}

// wantTracking is the tracking number rule, computed independently of the package.
func wantTracking(orderID string) string {
	sum := sha256.Sum256([]byte(orderID))
	return "1Z" + strings.ToUpper(hex.EncodeToString(sum[:]))[:12]
}

// wantProblem checks that err is an error answer with the given status and code.
func wantProblem(t *testing.T, err error, status int, code string) {
	t.Helper()
	var re *httpx.ResponseError
	if !errors.As(err, &re) || re.Problem.Status != status || re.Problem.Code != code {
		t.Errorf("err = %v, want a %d %s answer", err, status, code)
	}
}

func TestSchedule(t *testing.T) {
	ctx := context.Background()
	dbtest.Each(t, func(t *testing.T, cfg database.Config) {
		s := start(t, cfg)
		req := request("o-1", "US", "94105")
		var first shipping.Shipment

		t.Run("scheduling creates a shipment with the country's carrier and the order's tracking number", func(t *testing.T) {
			status, sh := s.schedule(t, req)
			if status != http.StatusCreated {
				t.Fatalf("status = %d, want 201", status)
			}
			if sh.OrderID != "o-1" || sh.Status != shipping.Scheduled || sh.Carrier != "UPS" ||
				sh.TrackingNumber != wantTracking("o-1") || sh.Address != req.Address || len(sh.Items) != 2 ||
				sh.CreatedAt.IsZero() || !sh.UpdatedAt.Equal(sh.CreatedAt) {
				t.Fatalf("shipment = %+v", sh)
			}
			if got := s.shipment(t, "o-1"); got.TrackingNumber != sh.TrackingNumber || !got.CreatedAt.Equal(sh.CreatedAt) {
				t.Errorf("stored shipment = %+v, want %+v", got, sh)
			}
			first = sh
		})
		t.Run("the shipment is answered with camelCase JSON fields", func(t *testing.T) {
			status, data := s.call(t, http.MethodGet, "/shipments/o-1", nil)
			for _, field := range []string{`"orderId"`, `"trackingNumber"`, `"postalCode"`, `"line1"`, `"createdAt"`, `"updatedAt"`} {
				if status != http.StatusOK || !bytes.Contains(data, []byte(field)) {
					t.Errorf("GET /shipments/o-1 = %d %s, want a field %s", status, data, field)
				}
			}
		})
		t.Run("scheduling again returns the first shipment with 200 and writes nothing", func(t *testing.T) {
			again := req
			again.Items = []shipping.Item{req.Items[1], req.Items[0]} // the same items in another order
			for i := range 3 {
				status, sh := s.schedule(t, again)
				if status != http.StatusOK {
					t.Fatalf("replay #%d status = %d, want 200", i+1, status)
				}
				if sh.TrackingNumber != first.TrackingNumber || !sh.CreatedAt.Equal(first.CreatedAt) ||
					!sh.UpdatedAt.Equal(first.UpdatedAt) || sh.Status != shipping.Scheduled {
					t.Errorf("replay #%d = %+v, want the first shipment %+v", i+1, sh, first)
				}
			}
			if sh, err := s.client.Schedule(ctx, req); err != nil || sh.TrackingNumber != first.TrackingNumber {
				t.Errorf("replay through the client = %+v, %v", sh, err)
			}
			if n := s.rows(t, "o-1"); n != 1 {
				t.Errorf("%d rows for o-1, want 1", n)
			}
		})
		t.Run("another address for the same order is a conflict and changes nothing", func(t *testing.T) {
			other := req
			other.Address.Line1 = "2 Other St"
			_, err := s.client.Schedule(ctx, other)
			if !errors.Is(err, shipping.ErrConflict) {
				t.Fatalf("err = %v, want ErrConflict", err)
			}
			wantProblem(t, err, http.StatusConflict, "IdempotencyConflict")
			if got := s.shipment(t, "o-1"); got.Address != req.Address || !got.UpdatedAt.Equal(first.UpdatedAt) {
				t.Errorf("shipment after conflict = %+v, want it unchanged", got)
			}
		})
		t.Run("other items for the same order are a conflict", func(t *testing.T) {
			other := req
			other.Items = []shipping.Item{{SKU: "SKU-BOOK", Quantity: 3}, {SKU: "SKU-MUG", Quantity: 1}}
			if _, err := s.client.Schedule(ctx, other); !errors.Is(err, shipping.ErrConflict) {
				t.Fatalf("err = %v, want ErrConflict", err)
			}
			if got := s.shipment(t, "o-1"); !got.UpdatedAt.Equal(first.UpdatedAt) || got.Items[0].Quantity != 2 {
				t.Errorf("shipment after conflict = %+v, want it unchanged", got)
			}
		})
		t.Run("a shipment survives a restart of the service on the same database", func(t *testing.T) {
			again := start(t, cfg) // a second process: migrating again must keep the data
			if got := again.shipment(t, "o-1"); got.TrackingNumber != first.TrackingNumber || got.Status != shipping.Scheduled {
				t.Errorf("after restart = %+v, want %+v", got, first)
			}
		})
	})
}

func TestServedCountries(t *testing.T) {
	ctx := context.Background()
	carriers := map[string]string{"US": "UPS", "CA": "UPS", "GB": "DHL", "DE": "DHL", "FR": "DHL", "KR": "EMS", "JP": "EMS"}
	if len(carriers) != len(shipping.ServedCountries) {
		t.Fatalf("the test knows %d countries, the service serves %v", len(carriers), shipping.ServedCountries)
	}
	unserved := []struct{ name, country, postalCode string }{
		{"country XX", "XX", "12345"},
		{"country BR", "BR", "01310-100"},
		{"postal code 00000 in a served country", "US", "00000"},
		{"postal code 00000 in another served country", "KR", "00000"},
	}
	dbtest.Each(t, func(t *testing.T, cfg database.Config) {
		s := start(t, cfg)
		for _, country := range shipping.ServedCountries {
			t.Run("shipping to "+country+" is scheduled with "+carriers[country], func(t *testing.T) {
				orderID := "served-" + country
				sh, err := s.client.Schedule(ctx, request(orderID, country, "12345"))
				if err != nil {
					t.Fatal(err)
				}
				if sh.Status != shipping.Scheduled || sh.Carrier != carriers[country] || sh.TrackingNumber != wantTracking(orderID) {
					t.Errorf("shipment = %+v, want SCHEDULED with %s", sh, carriers[country])
				}
			})
		}
		for _, tc := range unserved {
			t.Run("shipping to "+tc.name+" is unavailable and writes nothing", func(t *testing.T) {
				orderID := "unserved-" + tc.country + "-" + tc.postalCode
				_, err := s.client.Schedule(ctx, request(orderID, tc.country, tc.postalCode))
				if !errors.Is(err, shipping.ErrShippingUnavailable) {
					t.Fatalf("err = %v, want ErrShippingUnavailable", err)
				}
				wantProblem(t, err, http.StatusUnprocessableEntity, "ShippingUnavailable")
				if _, err := s.client.Shipment(ctx, orderID); !errors.Is(err, shipping.ErrNotFound) {
					t.Errorf("shipment after refusal: err = %v, want ErrNotFound", err)
				}
			})
		}
		if n := s.rows(t, "unserved-"); n != 0 {
			t.Errorf("%d rows written for unserved addresses, want 0", n)
		}
	})
}

func TestCancel(t *testing.T) {
	ctx := context.Background()
	dbtest.Each(t, func(t *testing.T, cfg database.Config) {
		s := start(t, cfg)
		req := request("o-1", "GB", "SW1A 1AA")
		scheduled, err := s.client.Schedule(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		var cancelled shipping.Shipment

		t.Run("cancelling a scheduled shipment answers 200 with it cancelled", func(t *testing.T) {
			status, data := s.call(t, http.MethodPost, "/shipments/o-1/cancel", nil)
			if status != http.StatusOK {
				t.Fatalf("status = %d %s, want 200", status, data)
			}
			if err := json.Unmarshal(data, &cancelled); err != nil {
				t.Fatal(err)
			}
			if cancelled.Status != shipping.Cancelled || cancelled.TrackingNumber != scheduled.TrackingNumber ||
				cancelled.Address != req.Address || !cancelled.CreatedAt.Equal(scheduled.CreatedAt) ||
				cancelled.UpdatedAt.Before(scheduled.UpdatedAt) {
				t.Errorf("cancelled = %+v, scheduled was %+v", cancelled, scheduled)
			}
		})
		t.Run("cancelling again returns the cancelled shipment unchanged", func(t *testing.T) {
			for i := range 3 {
				sh, err := s.client.Cancel(ctx, "o-1")
				if err != nil {
					t.Fatalf("cancel #%d: %v", i+2, err)
				}
				if sh.Status != shipping.Cancelled || !sh.UpdatedAt.Equal(cancelled.UpdatedAt) {
					t.Errorf("cancel #%d = %+v, want %+v", i+2, sh, cancelled)
				}
			}
		})
		t.Run("a schedule arriving after the cancel is refused and changes nothing", func(t *testing.T) {
			_, err := s.client.Schedule(ctx, req)
			if !errors.Is(err, shipping.ErrCompensated) {
				t.Fatalf("err = %v, want ErrCompensated", err)
			}
			wantProblem(t, err, http.StatusConflict, "AlreadyCompensated")
			if got := s.shipment(t, "o-1"); got.Status != shipping.Cancelled || !got.UpdatedAt.Equal(cancelled.UpdatedAt) {
				t.Errorf("shipment = %+v, want it still CANCELLED as %+v", got, cancelled)
			}
		})
	})
}

func TestNullCompensation(t *testing.T) {
	ctx := context.Background()
	dbtest.Each(t, func(t *testing.T, cfg database.Config) {
		s := start(t, cfg)
		var tomb shipping.Shipment

		t.Run("cancelling an order never scheduled succeeds and leaves a VOIDED tombstone", func(t *testing.T) {
			var err error
			tomb, err = s.client.Cancel(ctx, "o-never")
			if err != nil {
				t.Fatal(err)
			}
			if tomb.Status != shipping.Voided || tomb.OrderID != "o-never" || tomb.Carrier != "" ||
				tomb.TrackingNumber != "" || tomb.Address != (shipping.Address{}) || tomb.Items == nil || len(tomb.Items) != 0 {
				t.Fatalf("tombstone = %+v, want VOIDED with nothing else", tomb)
			}
			if got := s.shipment(t, "o-never"); got.Status != shipping.Voided {
				t.Errorf("stored = %+v, want VOIDED", got)
			}
		})
		t.Run("a schedule arriving after the tombstone is refused and leaves it VOIDED", func(t *testing.T) {
			_, err := s.client.Schedule(ctx, request("o-never", "DE", "10115"))
			if !errors.Is(err, shipping.ErrCompensated) {
				t.Fatalf("late schedule: err = %v, want ErrCompensated", err)
			}
			wantProblem(t, err, http.StatusConflict, "AlreadyCompensated")
			got := s.shipment(t, "o-never")
			if got.Status != shipping.Voided || got.TrackingNumber != "" || !got.UpdatedAt.Equal(tomb.UpdatedAt) {
				t.Errorf("shipment = %+v, want the tombstone %+v", got, tomb)
			}
		})
		t.Run("cancelling the tombstone again returns it unchanged", func(t *testing.T) {
			again, err := s.client.Cancel(ctx, "o-never")
			if err != nil || again.Status != shipping.Voided || !again.UpdatedAt.Equal(tomb.UpdatedAt) {
				t.Errorf("second cancel = %+v, %v; want the tombstone %+v", again, err, tomb)
			}
			if n := s.rows(t, "o-never"); n != 1 {
				t.Errorf("%d rows for o-never, want 1", n)
			}
		})
	})
}

func TestConcurrency(t *testing.T) {
	ctx := context.Background()
	dbtest.Each(t, func(t *testing.T, cfg database.Config) {
		s := start(t, cfg)
		t.Run("50 concurrent identical schedules of one order create one shipment that all callers get", func(t *testing.T) {
			req := request("dup-1", "JP", "100-0001")
			type answer struct {
				status int
				sh     shipping.Shipment
			}
			answers := make([]answer, 50)
			var wg sync.WaitGroup
			ready := make(chan struct{})
			for i := range answers {
				wg.Go(func() {
					<-ready
					status, data, err := s.send(http.MethodPost, "/shipments", req)
					if err != nil {
						t.Errorf("caller %d: %v", i, err)
						return
					}
					answers[i].status = status
					if err := json.Unmarshal(data, &answers[i].sh); err != nil {
						t.Errorf("caller %d: decode %s: %v", i, data, err)
					}
				})
			}
			close(ready)
			wg.Wait()
			created := 0
			for i, a := range answers {
				switch a.status {
				case http.StatusCreated:
					created++
				case http.StatusOK:
				default:
					t.Errorf("caller %d: status %d", i, a.status)
				}
				if a.sh.TrackingNumber != wantTracking("dup-1") || !a.sh.CreatedAt.Equal(answers[0].sh.CreatedAt) {
					t.Errorf("caller %d got %+v, caller 0 got %+v", i, a.sh, answers[0].sh)
				}
			}
			if created != 1 {
				t.Errorf("%d callers were answered 201, want exactly 1", created)
			}
			if n := s.rows(t, "dup-"); n != 1 {
				t.Errorf("%d rows, want 1", n)
			}
		})
		t.Run("50 schedule-versus-cancel races never leave a shipment scheduled after its cancel", func(t *testing.T) {
			const orders = 50
			type result struct {
				schedErr    error
				cancelled   shipping.Shipment
				cancelErr   error
				afterCancel shipping.Shipment
				readErr     error
			}
			results := make([]result, orders)
			var wg sync.WaitGroup
			ready := make(chan struct{})
			for i := range orders {
				orderID := fmt.Sprintf("race-%d", i)
				schedule := func() {
					<-ready
					_, results[i].schedErr = s.client.Schedule(ctx, request(orderID, "FR", "75001"))
				}
				cancel := func() {
					<-ready
					r := &results[i]
					if r.cancelled, r.cancelErr = s.client.Cancel(ctx, orderID); r.cancelErr == nil {
						r.afterCancel, r.readErr = s.client.Shipment(ctx, orderID)
					}
				}
				if i%2 == 0 { // vary which side is started first
					wg.Go(schedule)
					wg.Go(cancel)
				} else {
					wg.Go(cancel)
					wg.Go(schedule)
				}
			}
			close(ready)
			wg.Wait()

			var cancelledAfter, voidedBefore int
			for i, r := range results {
				orderID := fmt.Sprintf("race-%d", i)
				if r.cancelErr != nil || r.readErr != nil {
					t.Errorf("%s: cancel %v, read after cancel %v", orderID, r.cancelErr, r.readErr)
					continue
				}
				if r.afterCancel.Status == shipping.Scheduled {
					t.Errorf("%s: SCHEDULED after its cancel returned %+v", orderID, r.cancelled)
				}
				final := s.shipment(t, orderID)
				switch {
				case final.Status == shipping.Cancelled && r.cancelled.Status == shipping.Cancelled && r.schedErr == nil:
					cancelledAfter++ // the schedule won, then the cancel undid it
				case final.Status == shipping.Voided && r.cancelled.Status == shipping.Voided && errors.Is(r.schedErr, shipping.ErrCompensated):
					voidedBefore++ // the cancel won; the late schedule was refused
				default:
					t.Errorf("%s: final %s, cancel answered %s, schedule err %v", orderID, final.Status, r.cancelled.Status, r.schedErr)
				}
				if _, err := s.client.Schedule(ctx, request(orderID, "FR", "75001")); !errors.Is(err, shipping.ErrCompensated) {
					t.Errorf("%s: a schedule after the race: err = %v, want ErrCompensated", orderID, err)
				}
			}
			t.Logf("%d orders scheduled then cancelled, %d voided before their schedule", cancelledAfter, voidedBefore)
			if n := s.rows(t, "race-"); n != orders {
				t.Errorf("%d rows, want %d", n, orders)
			}
		})
	})
}

func TestBadInput(t *testing.T) {
	const (
		addr  = `"address":{"name":"Ada","line1":"1 Main St","city":"Springfield","postalCode":"94105","country":"US"}`
		items = `"items":[{"sku":"SKU-BOOK","quantity":1}]`
	)
	withAddress := func(field, value string) string {
		a := map[string]string{"name": "Ada", "line1": "1 Main St", "city": "Springfield", "postalCode": "94105", "country": "US"}
		a[field] = value
		b, _ := json.Marshal(map[string]any{"orderId": "o-x", "address": a, "items": []shipping.Item{{SKU: "SKU-BOOK", Quantity: 1}}})
		return string(b)
	}
	manyItems := make([]string, 101)
	for i := range manyItems {
		manyItems[i] = fmt.Sprintf(`{"sku":"SKU-%d","quantity":1}`, i)
	}
	huge := `{"orderId":"o-x",` + addr + `,` + items + `,"pad":"` + strings.Repeat("x", httpx.MaxBodyBytes) + `"}`
	cases := []struct {
		name, method, path, contentType, body string
		status                                int
		code                                  string
	}{
		{"malformed JSON", "POST", "/shipments", "application/json", `{"orderId":"o-x",`, 400, "MalformedRequest"},
		{"a JSON array instead of an object", "POST", "/shipments", "application/json", `[1,2]`, 400, "MalformedRequest"},
		{"two JSON values", "POST", "/shipments", "application/json", `{"orderId":"o-x",` + addr + `,` + items + `} {}`, 400, "MalformedRequest"},
		{"an unknown field", "POST", "/shipments", "application/json", `{"orderId":"o-x",` + addr + `,` + items + `,"carrier":"UPS"}`, 400, "MalformedRequest"},
		{"a string quantity", "POST", "/shipments", "application/json", `{"orderId":"o-x",` + addr + `,"items":[{"sku":"SKU-BOOK","quantity":"1"}]}`, 400, "MalformedRequest"},
		{"an address that is a string", "POST", "/shipments", "application/json", `{"orderId":"o-x","address":"1 Main St",` + items + `}`, 400, "MalformedRequest"},
		{"an empty body", "POST", "/shipments", "application/json", ``, 400, "MalformedRequest"},
		{"zero quantity", "POST", "/shipments", "application/json", `{"orderId":"o-x",` + addr + `,"items":[{"sku":"SKU-BOOK","quantity":0}]}`, 422, "ValidationFailed"},
		{"negative quantity", "POST", "/shipments", "application/json", `{"orderId":"o-x",` + addr + `,"items":[{"sku":"SKU-BOOK","quantity":-2}]}`, 422, "ValidationFailed"},
		{"a quantity over 10000", "POST", "/shipments", "application/json", `{"orderId":"o-x",` + addr + `,"items":[{"sku":"SKU-BOOK","quantity":10001}]}`, 422, "ValidationFailed"},
		{"a missing order ID", "POST", "/shipments", "application/json", `{` + addr + `,` + items + `}`, 422, "ValidationFailed"},
		{"an order ID with a space", "POST", "/shipments", "application/json", `{"orderId":"o x",` + addr + `,` + items + `}`, 422, "ValidationFailed"},
		{"missing items", "POST", "/shipments", "application/json", `{"orderId":"o-x",` + addr + `}`, 422, "ValidationFailed"},
		{"an empty item list", "POST", "/shipments", "application/json", `{"orderId":"o-x",` + addr + `,"items":[]}`, 422, "ValidationFailed"},
		{"101 items", "POST", "/shipments", "application/json", `{"orderId":"o-x",` + addr + `,"items":[` + strings.Join(manyItems, ",") + `]}`, 422, "ValidationFailed"},
		{"an invalid SKU", "POST", "/shipments", "application/json", `{"orderId":"o-x",` + addr + `,"items":[{"sku":"SKU BOOK","quantity":1}]}`, 422, "ValidationFailed"},
		{"the same SKU twice", "POST", "/shipments", "application/json", `{"orderId":"o-x",` + addr + `,"items":[{"sku":"SKU-BOOK","quantity":1},{"sku":"SKU-BOOK","quantity":1}]}`, 422, "ValidationFailed"},
		{"a missing address", "POST", "/shipments", "application/json", `{"orderId":"o-x",` + items + `}`, 422, "ValidationFailed"},
		{"a blank name", "POST", "/shipments", "application/json", withAddress("name", "   "), 422, "ValidationFailed"},
		{"a missing city", "POST", "/shipments", "application/json", withAddress("city", ""), 422, "ValidationFailed"},
		{"a missing postal code", "POST", "/shipments", "application/json", withAddress("postalCode", ""), 422, "ValidationFailed"},
		{"a street over 200 characters", "POST", "/shipments", "application/json", withAddress("line1", strings.Repeat("a", 201)), 422, "ValidationFailed"},
		{"a NUL byte in the street", "POST", "/shipments", "application/json", withAddress("line1", "1 Main\x00St"), 422, "ValidationFailed"},
		{"a lower-case country", "POST", "/shipments", "application/json", withAddress("country", "us"), 422, "ValidationFailed"},
		{"a three-letter country", "POST", "/shipments", "application/json", withAddress("country", "USA"), 422, "ValidationFailed"},
		{"an unserved country", "POST", "/shipments", "application/json", withAddress("country", "BR"), 422, "ShippingUnavailable"},
		{"the unserved postal code", "POST", "/shipments", "application/json", withAddress("postalCode", "00000"), 422, "ShippingUnavailable"},
		{"a body over 1 MiB", "POST", "/shipments", "application/json", huge, 413, "RequestTooLarge"},
		{"a form instead of JSON", "POST", "/shipments", "application/x-www-form-urlencoded", `orderId=o-x`, 415, "UnsupportedMediaType"},
		{"no content type", "POST", "/shipments", "", `{"orderId":"o-x",` + addr + `,` + items + `}`, 415, "UnsupportedMediaType"},
		{"a cancel with an invalid order ID", "POST", "/shipments/o%20x/cancel", "", ``, 422, "ValidationFailed"},
		{"an unknown shipment", "GET", "/shipments/o-x", "", ``, 404, "NotFound"},
		{"a NUL byte in the order ID", "GET", "/shipments/o%00x", "", ``, 404, "NotFound"},
		{"an unknown route", "GET", "/nope", "", ``, 404, "RouteNotFound"},
		{"a wrong method", "DELETE", "/shipments/o-x", "", ``, 405, "MethodNotAllowed"},
		{"a list request on the write path", "GET", "/shipments", "", ``, 405, "MethodNotAllowed"},
	}
	dbtest.Each(t, func(t *testing.T, cfg database.Config) {
		s := start(t, cfg)
		for _, tc := range cases {
			t.Run(tc.name+" is answered "+fmt.Sprint(tc.status), func(t *testing.T) {
				resp, data := servicetest.Send(t, tc.method, s.url+tc.path, tc.contentType, tc.body)
				p := servicetest.DecodeProblem(t, resp, data)
				if resp.StatusCode != tc.status || p.Code != tc.code || p.Status != tc.status {
					t.Errorf("answer %d %+v, want %d %s", resp.StatusCode, p, tc.status, tc.code)
				}
			})
		}
		if n := s.rows(t, ""); n != 0 {
			t.Errorf("bad requests wrote %d shipments, want 0", n)
		}
	})
}

func TestFaultInjection(t *testing.T) {
	ctx := context.Background()
	dbtest.Each(t, func(t *testing.T, cfg database.Config) {
		s := start(t, cfg)
		fc := s.client.Faults()
		req := request("f-1", "CA", "M5V 2T6")

		t.Run("an error rate of 1 on schedule answers 503 and writes nothing", func(t *testing.T) {
			if err := fc.Set(ctx, faults.Config{ErrorRate: 1, Operations: []string{"schedule"}}); err != nil {
				t.Fatal(err)
			}
			_, err := s.client.Schedule(ctx, req)
			if !errors.Is(err, httpx.ErrUnavailable) {
				t.Fatalf("err = %v, want ErrUnavailable", err)
			}
			wantProblem(t, err, http.StatusServiceUnavailable, "ServiceUnavailable")
			if _, err := s.client.Shipment(ctx, "f-1"); !errors.Is(err, shipping.ErrNotFound) {
				t.Errorf("the failed schedule left a shipment: %v", err)
			}
			if sh, err := s.client.Cancel(ctx, "f-untargeted"); err != nil || sh.Status != shipping.Voided {
				t.Errorf("cancel is not targeted: %+v, %v", sh, err)
			}
		})
		t.Run("the settings read back from GET /admin/faults", func(t *testing.T) {
			got, err := fc.Get(ctx)
			if err != nil || got.ErrorRate != 1 || len(got.Operations) != 1 || got.Operations[0] != "schedule" {
				t.Errorf("GET /admin/faults = %+v, %v; want error rate 1 on schedule", got, err)
			}
		})
		t.Run("once the faults are cleared the retried schedule succeeds", func(t *testing.T) {
			if err := fc.Set(ctx, faults.Config{}); err != nil {
				t.Fatal(err)
			}
			if status, sh := s.schedule(t, req); status != http.StatusCreated || sh.Status != shipping.Scheduled {
				t.Errorf("retry = %d %+v, want 201 SCHEDULED", status, sh)
			}
		})
		t.Run("settings naming another service's operation are refused", func(t *testing.T) {
			if err := fc.Set(ctx, faults.Config{Operations: []string{"reserve"}}); !errors.Is(err, validate.ErrInvalid) {
				t.Errorf("err = %v, want ErrValidation", err)
			}
		})
	})
}
