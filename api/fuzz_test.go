package api

// Fuzz targets for the public API's request decoding and validation. Each drives the real
// handler (New) over the fakes of handlers_test.go, in memory, with httptest recorders.
// The fakes answer every call successfully, so whatever the input:
//
//   - nothing panics and nothing is answered 5xx (the recovery middleware turns a panic
//     into a 500, which fails the target with the logged panic);
//   - every 4xx is application/problem+json whose body decodes to a problem.Problem with
//     the answer's status, a code, a title and the request path as instance;
//   - a request that is well-formed by the endpoint's rules (checked here independently
//     of the handler) is answered 2xx, and the fake receives exactly what the request
//     carried (round-trip); a 4xx never reaches the fake.
//
// Run one for longer with: go test -run '^$' -fuzz FuzzPlaceOrder -fuzztime 5m ./api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ordersaga/ordersaga/app"
	"github.com/ordersaga/ordersaga/internal/problem"
	"github.com/ordersaga/ordersaga/services/inventory"
	"github.com/ordersaga/ordersaga/services/order"
)

// fuzzToken is the operator token of the API under fuzzing.
const fuzzToken = "op"

// recordingCatalog is fakeCatalog counting the upserts and remembering the SKU.
type recordingCatalog struct {
	fakeCatalog
	calls int
	sku   string
}

func (r *recordingCatalog) UpsertProduct(ctx context.Context, sku string, u inventory.ProductUpdate) (inventory.Product, error) {
	r.calls++
	r.sku = sku
	return r.fakeCatalog.UpsertProduct(ctx, sku, u)
}

// fuzzAPI is one API over fakes, built once per target and reset before each input.
type fuzzAPI struct {
	h       http.Handler
	orders  *fakeOrders
	catalog *recordingCatalog
	log     *bytes.Buffer // the API's error log: the panic or error behind a 5xx
}

func newFuzzAPI() *fuzzAPI {
	a := &fuzzAPI{orders: &fakeOrders{}, catalog: &recordingCatalog{}, log: &bytes.Buffer{}}
	a.h = New(Config{OperatorTokens: []string{fuzzToken}},
		Deps{Orders: a.orders, Catalog: a.catalog, Metrics: prometheus.NewRegistry()},
		slog.New(slog.NewTextHandler(a.log, &slog.HandlerOptions{Level: slog.LevelError})))
	return a
}

// serve resets the fakes and sends one request: path and rawQuery as they reach the
// router (no cleaning, no decoding), with the non-empty headers of hdr.
func (a *fuzzAPI) serve(method, path, rawQuery string, body []byte, hdr map[string]string) *httptest.ResponseRecorder {
	*a.orders = fakeOrders{
		view:   view,
		placed: app.Placed{Order: view, Created: true},
		list:   app.OrderList{Orders: []app.OrderView{view}},
	}
	a.catalog.calls, a.catalog.sku, a.catalog.upserted = 0, "", inventory.ProductUpdate{}
	a.log.Reset()
	req := httptest.NewRequest(method, "/", bytes.NewReader(body))
	req.URL = &url.URL{Path: path, RawQuery: rawQuery}
	req.RequestURI = req.URL.RequestURI()
	for k, v := range hdr {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, req)
	return rec
}

// check holds the answer to the properties every answer has: no 5xx (nor 1xx or 3xx), and
// every 4xx a problem document of the same status. It returns the status.
func (a *fuzzAPI) check(t *testing.T, rec *httptest.ResponseRecorder, path string) int {
	t.Helper()
	checkAnswer(t, rec, path, a.log.String())
	return rec.Code
}

// checkAnswer is the answer's part of the properties; errLog is the handler's error log.
func checkAnswer(t *testing.T, rec *httptest.ResponseRecorder, path, errLog string) {
	t.Helper()
	switch {
	case rec.Code >= 500:
		t.Fatalf("answered %d for a request the fakes accept: %s\nerror log: %s", rec.Code, rec.Body, errLog)
	case rec.Code < 200 || (rec.Code >= 300 && rec.Code < 400):
		t.Fatalf("unexpected status %d: %s", rec.Code, rec.Body)
	case rec.Code >= 400:
		if ct := rec.Header().Get("Content-Type"); ct != problem.ContentType {
			t.Fatalf("%d answered as %q, want %q: %s", rec.Code, ct, problem.ContentType, rec.Body)
		}
		var p problem.Problem
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
			t.Fatalf("%d body is not a problem: %v: %q", rec.Code, err, rec.Body)
		}
		if p.Status != rec.Code || p.Code == "" || p.Title == "" || p.Instance != asJSON(path) {
			t.Fatalf("problem %+v for a %d answer to %q", p, rec.Code, path)
		}
	}
}

// asJSON is s as it reads back from JSON: invalid UTF-8 becomes U+FFFD.
func asJSON(s string) string {
	b, _ := json.Marshal(s)
	var out string
	_ = json.Unmarshal(b, &out)
	return out
}

// jsonMediaType reports whether a Content-Type is JSON, as the binding wants it.
func jsonMediaType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// decodeStrict decodes body into v as the binding should accept it: one JSON value and no
// unknown fields.
func decodeStrict(body []byte, v any) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if dec.Decode(v) != nil {
		return false
	}
	_, err := dec.Token()
	return errors.Is(err, io.EOF)
}

// oracleWait is what ?wait= means: a duration, or a number of seconds; ok is false when
// it is neither.
func oracleWait(s string) (time.Duration, bool) {
	if s == "" {
		return 0, true
	}
	if d, err := time.ParseDuration(s); err == nil {
		return d, true
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, false
	}
	return time.Duration(n * float64(time.Second)), true
}

// routable reports whether a path parameter lands on its route: one non-empty segment.
func routable(param string) bool { return param != "" && !strings.Contains(param, "/") }

// The valid order of the handler tests, and variants.
const (
	fuzzOrderBody    = orderBody
	fuzzOrderWithID  = `{"orderId":"o-42","customerId":"cust-2","items":[{"sku":"SKU-MUG","quantity":1},{"sku":"SKU-BOOK","quantity":10000}],"paymentMethod":"pm_card_visa","shippingAddress":{"name":"Zoë","line1":"Straße 1","city":"Köln","postalCode":"50667","country":"DE"}}`
	fuzzOrderUnicode = `{"customerId":"\u0000cust","items":[{"sku":"SKU-\u00e9","quantity":1}],"paymentMethod":"pm","shippingAddress":{"name":"\ud800","line1":"🚀","city":"c","postalCode":"p","country":"us"}}`
)

// FuzzPlaceOrder drives POST /v1/orders: the body, its Content-Type, the query string
// (?wait=) and the Idempotency-Key header.
func FuzzPlaceOrder(f *testing.F) {
	f.Add([]byte(fuzzOrderBody), "application/json", "", "k-1")
	f.Add([]byte(fuzzOrderBody), "application/json; charset=utf-8", "wait=2.5", "")
	f.Add([]byte(fuzzOrderWithID), "application/merge-patch+json", "wait=10s", "key with spaces")
	f.Add([]byte(fuzzOrderUnicode), "application/json", "wait=-1h&wait=2s", "\x00")
	f.Add([]byte(`{"customerId":1}`), "application/json", "wait=NaN", "")
	f.Add([]byte(`{"items":[{"quantity":99999999999999999999}]}`), "application/json", "wait=1e308", "")
	f.Add([]byte(`{"customerId":"c"} {"customerId":"d"}`), "application/json", "", "")
	f.Add([]byte(``), "", "wait=%zz", "")
	f.Add([]byte(`null`), "application/json", "wait=9223372036854775807ns", "")
	f.Add([]byte("a=b"), "application/x-www-form-urlencoded", "", "")

	a := newFuzzAPI()
	f.Fuzz(func(t *testing.T, body []byte, contentType, rawQuery, key string) {
		const path = "/v1/orders"
		rec := a.serve(http.MethodPost, path, rawQuery, body,
			map[string]string{"Content-Type": contentType, "Idempotency-Key": key})
		status := a.check(t, rec, path)

		query, _ := url.ParseQuery(rawQuery)
		wait, waitOK := oracleWait(query.Get("wait"))
		var want app.PlaceRequest
		wellFormed := jsonMediaType(contentType) && decodeStrict(body, &want) && waitOK
		calls := a.orders.calls
		switch {
		case status >= 400:
			if wellFormed {
				t.Fatalf("a well-formed order (wait %q) answered %d: %s", query.Get("wait"), status, rec.Body)
			}
			if len(calls) != 0 {
				t.Fatalf("a %d answer reached the use case: %+v", status, calls)
			}
		default:
			if !wellFormed {
				t.Fatalf("answered %d to a request that is not well-formed (content type %q, wait %q): %q",
					status, contentType, query.Get("wait"), body)
			}
			if status != http.StatusAccepted || rec.Header().Get("Location") != view.Links.Self {
				t.Fatalf("a new order answered %d, Location %q", status, rec.Header().Get("Location"))
			}
			if len(calls) != 1 || calls[0].op != "Place" {
				t.Fatalf("use case calls %+v, want one Place", calls)
			}
			c := calls[0]
			if !reflect.DeepEqual(c.req, want) {
				t.Fatalf("the use case got %+v, the request carried %+v", c.req, want)
			}
			if c.key != key {
				t.Fatalf("the use case got key %q, the request carried %q", c.key, key)
			}
			if c.wait != wait {
				t.Fatalf("the use case got wait %v, ?wait=%q means %v", c.wait, query.Get("wait"), wait)
			}
		}
	})
}

// decisionPaths are the decision endpoints; all but cancel are the operators'.
var decisionPaths = []struct {
	path     string
	action   app.Action
	operator bool
}{
	{"cancel", "", false},
	{"approve", app.Approve, true},
	{"reject", app.Reject, true},
	{"retry-compensations", app.RetryCompensations, true},
	{"resolve-manually", app.ResolveManually, true},
}

// FuzzOrderDecision drives POST /v1/orders/{id}/cancel|approve|reject|retry-compensations|
// resolve-manually: which endpoint (endpoint modulo 5), the order ID, the optional body,
// its Content-Type and the Authorization header.
func FuzzOrderDecision(f *testing.F) {
	f.Add(uint8(0), "o-1", []byte(`{"note":"changed my mind"}`), "application/json", "")
	f.Add(uint8(0), "o-1", []byte(``), "", "")
	f.Add(uint8(1), "o-1", []byte(`{"by":"alice","note":"ok"}`), "application/json", "Bearer op")
	f.Add(uint8(2), "o-1", []byte(`{"by":"bob"}`), "application/json", "Bearer wrong")
	f.Add(uint8(3), "o-1", []byte(``), "", "Bearer op")
	f.Add(uint8(4), "o 1", []byte(`{"note":"refunded by hand\u0000"}`), "application/json", "Bearer op")
	f.Add(uint8(4), "o-1", []byte(`{"by":`), "application/json", "Bearer op")
	f.Add(uint8(1), "o-1", []byte(`{"by":["x"]}`), "application/json", "bearer op")
	f.Add(uint8(1), "", []byte(`{}`), "application/json", "Bearer ")
	f.Add(uint8(0), "a/b", []byte(`{"extra":1}`), "text/plain", "Basic b3A6")

	a := newFuzzAPI()
	f.Fuzz(func(t *testing.T, endpoint uint8, orderID string, body []byte, contentType, auth string) {
		ep := decisionPaths[int(endpoint)%len(decisionPaths)]
		path := "/v1/orders/" + orderID + "/" + ep.path
		rec := a.serve(http.MethodPost, path, "", body, map[string]string{"Content-Type": contentType, "Authorization": auth})
		status := a.check(t, rec, path)

		authorized := !ep.operator || auth == "Bearer "+fuzzToken
		var want app.Decision
		// The body is optional: none, or JSON whitespace only, leaves the decision empty.
		bodyOK := len(body) == 0 || (jsonMediaType(contentType) &&
			(len(bytes.Trim(body, " \t\r\n")) == 0 || decodeStrict(body, &want)))
		calls := a.orders.calls
		if status >= 400 {
			if len(calls) != 0 {
				t.Fatalf("a %d answer reached the use case: %+v", status, calls)
			}
			if routable(orderID) && authorized && bodyOK {
				t.Fatalf("a well-formed decision answered %d: %s", status, rec.Body)
			}
			if routable(orderID) && !authorized && status != http.StatusUnauthorized && status != http.StatusForbidden {
				t.Fatalf("an operator endpoint without the token answered %d: %s", status, rec.Body)
			}
			if status == http.StatusUnauthorized && rec.Header().Get("WWW-Authenticate") == "" {
				t.Fatal("a 401 without WWW-Authenticate")
			}
			return
		}
		if !authorized {
			t.Fatalf("an operator endpoint answered %d to Authorization %q", status, auth)
		}
		if !bodyOK {
			t.Fatalf("answered %d to a decision that is not well-formed (content type %q): %q", status, contentType, body)
		}
		wantOp, wantStatus := "Decide", http.StatusOK
		if !ep.operator {
			wantOp, wantStatus = "Cancel", http.StatusAccepted
		}
		if status != wantStatus {
			t.Fatalf("answered %d, want %d", status, wantStatus)
		}
		if len(calls) != 1 {
			t.Fatalf("use case calls %+v, want one %s", calls, wantOp)
		}
		c := calls[0]
		if c.op != wantOp || c.action != ep.action || c.orderID != orderID || c.d != want {
			t.Fatalf("the use case got %s %q %q %+v, the request carried %s %q %q %+v",
				c.op, c.action, c.orderID, c.d, wantOp, ep.action, orderID, want)
		}
	})
}

// FuzzUpsertProduct drives PUT /v1/products/{sku}: the SKU, the body, its Content-Type and
// the Authorization header.
func FuzzUpsertProduct(f *testing.F) {
	f.Add("SKU-NEW", []byte(`{"available":5}`), "application/json", "Bearer op")
	f.Add("SKU-NEW", []byte(`{"name":"Mug","priceCents":800,"available":0}`), "application/json", "Bearer op")
	f.Add("SKU-NEW", []byte(`{"priceCents":9223372036854775808}`), "application/json", "Bearer op")
	f.Add("SKU-NEW", []byte(`{"available":-1,"priceCents":-1}`), "application/json", "Bearer op")
	f.Add("SKU-NEW", []byte(`[]`), "application/json", "Bearer op")
	f.Add("SKU-NEW", []byte(`{"available":5}`), "application/json", "")
	f.Add("SKU-NEW", []byte(`{"available":5}`), "application/json", "Bearer nope")
	f.Add("SKU\x00É", []byte(`{"name":"\u0000\ud83d"}`), "application/vnd.x+json", "Bearer op")
	f.Add("", []byte(``), "", "Bearer op")
	f.Add("a/b", []byte(`{"available":"5"}`), "application/json", "Bearer op")

	a := newFuzzAPI()
	f.Fuzz(func(t *testing.T, sku string, body []byte, contentType, auth string) {
		path := "/v1/products/" + sku
		rec := a.serve(http.MethodPut, path, "", body, map[string]string{"Content-Type": contentType, "Authorization": auth})
		status := a.check(t, rec, path)

		authorized := auth == "Bearer "+fuzzToken
		var want inventory.ProductUpdate
		wellFormed := routable(sku) && authorized && jsonMediaType(contentType) && decodeStrict(body, &want)
		if status >= 400 {
			if a.catalog.calls != 0 {
				t.Fatalf("a %d answer reached the catalogue", status)
			}
			if wellFormed {
				t.Fatalf("a well-formed product update answered %d: %s", status, rec.Body)
			}
			return
		}
		if !wellFormed {
			t.Fatalf("answered %d to a product update that is not well-formed (Authorization %q, content type %q): %q",
				status, auth, contentType, body)
		}
		if a.catalog.calls != 1 || a.catalog.sku != sku || !reflect.DeepEqual(a.catalog.upserted, want) {
			t.Fatalf("the catalogue got %d calls, %q %+v; the request carried %q %+v",
				a.catalog.calls, a.catalog.sku, a.catalog.upserted, sku, want)
		}
		// JSON carries text: a SKU that is not UTF-8 comes back with U+FFFD in place of
		// its bad bytes (the catalogue itself refuses such a SKU; the fake here does not).
		var p inventory.Product
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.SKU != asJSONText(sku) {
			t.Fatalf("answer %q (%v), want the product %q", rec.Body, err, sku)
		}
	})
}

// FuzzReadOrders drives GET /v1/orders?customerId=&status=&limit=&cursor= (list true) and
// GET /v1/orders/{id}?wait=&live= (list false): the order ID and the raw query string.
func FuzzReadOrders(f *testing.F) {
	f.Add(true, "", "customerId=cust-1&status=completed&limit=5&cursor=c1")
	f.Add(true, "", "")
	f.Add(true, "", "limit=0")
	f.Add(true, "", "limit=101&limit=5")
	f.Add(true, "", "limit=99999999999999999999999&status=%00")
	f.Add(true, "", "status=ı&customerId=%F0%9F%9A%80&cursor=%ff%fe")
	f.Add(false, "o-1", "")
	f.Add(false, "o-1", "live=true")
	f.Add(false, "o-1", "wait=3s&live=maybe")
	f.Add(false, "o-1", "wait=1e-10&live=1")
	f.Add(false, "o-1", "wait=-9223372036854775808ns")
	f.Add(false, "", "")
	f.Add(false, "o-1/cancel", "wait=x")

	a := newFuzzAPI()
	f.Fuzz(func(t *testing.T, list bool, orderID, rawQuery string) {
		path := "/v1/orders"
		if !list {
			path += "/" + orderID
		}
		rec := a.serve(http.MethodGet, path, rawQuery, nil, nil)
		status := a.check(t, rec, path)
		query, _ := url.ParseQuery(rawQuery)
		calls := a.orders.calls
		if status >= 400 && len(calls) != 0 {
			t.Fatalf("a %d answer reached the use case: %+v", status, calls)
		}

		if list {
			limit, err := order.ParseLimit(query.Get("limit"))
			if (err == nil) != (status < 400) {
				t.Fatalf("limit %q (%v) answered %d: %s", query.Get("limit"), err, status, rec.Body)
			}
			if status >= 400 {
				return
			}
			want := order.ListQuery{CustomerID: query.Get("customerId"),
				Status: order.Status(strings.ToUpper(query.Get("status"))), Limit: limit, Cursor: query.Get("cursor")}
			if status != http.StatusOK || len(calls) != 1 || calls[0].op != "List" || calls[0].query != want {
				t.Fatalf("answered %d, use case calls %+v, want one List %+v", status, calls, want)
			}
			return
		}

		wait, waitOK := oracleWait(query.Get("wait"))
		live, liveErr := false, error(nil)
		if v := query.Get("live"); v != "" {
			live, liveErr = strconv.ParseBool(v)
		}
		wellFormed := routable(orderID) && waitOK && liveErr == nil
		if wellFormed != (status < 400) {
			t.Fatalf("order %q, wait %q, live %q answered %d: %s", orderID, query.Get("wait"), query.Get("live"), status, rec.Body)
		}
		if status >= 400 {
			return
		}
		want := call{op: "Get", orderID: orderID}
		switch {
		case wait > 0:
			want = call{op: "Await", orderID: orderID, wait: wait}
		case live:
			want = call{op: "GetLive", orderID: orderID}
		}
		if status != http.StatusOK || len(calls) != 1 || !reflect.DeepEqual(calls[0], want) {
			t.Fatalf("answered %d, use case calls %+v, want %+v", status, calls, want)
		}
	})
}

// asJSONText is s as encoding/json sends it: each byte that is not part of valid UTF-8
// becomes U+FFFD.
func asJSONText(s string) string {
	var b strings.Builder
	for len(s) > 0 {
		r, size := utf8.DecodeRuneInString(s)
		if r == utf8.RuneError && size == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[:size])
		}
		s = s[size:]
	}
	return b.String()
}
