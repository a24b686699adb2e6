package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/ordersaga/ordersaga/app"
	"github.com/ordersaga/ordersaga/internal/httpx"
	"github.com/ordersaga/ordersaga/internal/problem"
	"github.com/ordersaga/ordersaga/internal/validate"
	"github.com/ordersaga/ordersaga/saga"
	"github.com/ordersaga/ordersaga/services/inventory"
	"github.com/ordersaga/ordersaga/services/order"
)

// The tests below keep openapi.yaml honest: its paths are exactly the routes the router
// registers, its error answers are problems, its operator endpoints are the ones the
// router guards, and its enums and schemas follow the Go types the handlers answer with.

// operatorRoutes are the routes that need an operator's bearer token, as "METHOD /path"
// in OpenAPI form.
var operatorRoutes = []string{
	"POST /v1/orders/{orderId}/approve",
	"POST /v1/orders/{orderId}/reject",
	"POST /v1/orders/{orderId}/retry-compensations",
	"POST /v1/orders/{orderId}/resolve-manually",
	"PUT /v1/products/{sku}",
	"POST /codec/decode",
	"POST /codec/encode",
}

// problemSchemaRef is the one schema every error answer uses.
const problemSchemaRef = "#/components/schemas/Problem"

// nonProblemErrors are error answers whose body is not a problem, on purpose.
var nonProblemErrors = map[string]bool{
	"GET /readyz 503": true, // the Readiness body, with each check's result
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// spec is the parsed OpenAPI document.
type spec map[string]any

func loadSpec(t *testing.T) spec {
	t.Helper()
	var doc map[string]any
	if err := yaml.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.yaml does not parse: %v", err)
	}
	if doc == nil {
		t.Fatal("openapi.yaml is empty")
	}
	return doc
}

// operation is one method of one path of the spec.
type operation struct {
	method string // upper case
	path   string
	op     map[string]any
	item   map[string]any // the path item, for path-level parameters
}

func (o operation) String() string { return o.method + " " + o.path }

func (s spec) operations(t *testing.T) []operation {
	t.Helper()
	paths := asMap(t, s["paths"], "paths")
	var out []operation
	for _, p := range sortedKeys(paths) {
		item := asMap(t, paths[p], "paths."+p)
		for _, m := range httpMethods {
			if op, ok := item[m]; ok {
				out = append(out, operation{method: strings.ToUpper(m), path: p, op: asMap(t, op, p+" "+m), item: item})
			}
		}
	}
	return out
}

// resolve follows node's $ref (local references only) until it reaches a node without one.
func (s spec) resolve(node any) (any, error) {
	for range 10 {
		m, ok := node.(map[string]any)
		if !ok {
			return node, nil
		}
		ref, ok := m["$ref"].(string)
		if !ok {
			return node, nil
		}
		target, err := s.pointer(ref)
		if err != nil {
			return nil, err
		}
		node = target
	}
	return nil, errors.New("$ref chain too long")
}

// pointer returns the node a local reference ("#/components/schemas/Problem") names.
func (s spec) pointer(ref string) (any, error) {
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, errors.New("not a local reference: " + ref)
	}
	var node any = map[string]any(s)
	for _, part := range strings.Split(rest, "/") {
		part = strings.NewReplacer("~1", "/", "~0", "~").Replace(part)
		m, ok := node.(map[string]any)
		if !ok {
			return nil, errors.New(ref + ": " + part + " is not in an object")
		}
		if node, ok = m[part]; !ok {
			return nil, errors.New(ref + ": no " + part)
		}
	}
	return node, nil
}

func (s spec) mustResolve(t *testing.T, node any, where string) map[string]any {
	t.Helper()
	n, err := s.resolve(node)
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	return asMap(t, n, where)
}

func (s spec) schema(t *testing.T, name string) map[string]any {
	t.Helper()
	schemas := asMap(t, asMap(t, s["components"], "components")["schemas"], "components.schemas")
	sch, ok := schemas[name]
	if !ok {
		t.Fatalf("components.schemas has no %s", name)
	}
	return asMap(t, sch, "components.schemas."+name)
}

func asMap(t *testing.T, v any, where string) map[string]any {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%s: want an object with string keys, got %T", where, v)
	}
	return m
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func stringList(t *testing.T, v any, where string) []string {
	t.Helper()
	list, ok := v.([]any)
	if !ok {
		t.Fatalf("%s: want a list, got %T", where, v)
	}
	out := make([]string, len(list))
	for i, e := range list {
		s, ok := e.(string)
		if !ok {
			t.Fatalf("%s[%d]: want a string, got %T", where, i, e)
		}
		out[i] = s
	}
	return out
}

// sameSet reports the differences between what the spec says and what the code does.
func sameSet(t *testing.T, what string, inSpec, inCode []string) {
	t.Helper()
	for _, s := range inCode {
		if !slices.Contains(inSpec, s) {
			t.Errorf("%s: %q is in the code but not in openapi.yaml", what, s)
		}
	}
	for _, s := range inSpec {
		if !slices.Contains(inCode, s) {
			t.Errorf("%s: %q is in openapi.yaml but not in the code", what, s)
		}
	}
}

var ginParam = regexp.MustCompile(`[:*]([A-Za-z0-9_]+)`)

// openAPIPath turns a Gin path ("/v1/orders/:orderId") into an OpenAPI one
// ("/v1/orders/{orderId}").
func openAPIPath(ginPath string) string { return ginParam.ReplaceAllString(ginPath, "{$1}") }

// registeredRoutes returns the routes of h as "METHOD /path" in OpenAPI form.
func registeredRoutes(t *testing.T, h http.Handler) []string {
	t.Helper()
	engine, ok := h.(*gin.Engine)
	if !ok {
		t.Fatalf("New returned a %T, want a *gin.Engine", h)
	}
	var out []string
	for _, r := range engine.Routes() {
		out = append(out, r.Method+" "+openAPIPath(r.Path))
	}
	sort.Strings(out)
	return out
}

func newTestRouter(cfg Config, deps Deps) http.Handler {
	if deps.Metrics == nil {
		deps.Metrics = prometheus.NewRegistry() // so that /metrics is registered
	}
	return New(cfg, deps, slog.New(slog.DiscardHandler))
}

func TestOpenAPIDocument(t *testing.T) {
	doc := loadSpec(t)

	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.1.") {
		t.Errorf("openapi: got %q, want 3.1.x", doc["openapi"])
	}
	info := asMap(t, doc["info"], "info")
	for _, k := range []string{"title", "version"} {
		if v, _ := info[k].(string); strings.TrimSpace(v) == "" {
			t.Errorf("info.%s is missing", k)
		}
	}

	// Every reference resolves.
	var walk func(node any, where string)
	walk = func(node any, where string) {
		switch n := node.(type) {
		case map[string]any:
			if ref, ok := n["$ref"].(string); ok {
				if _, err := doc.pointer(ref); err != nil {
					t.Errorf("%s: %v", where, err)
				}
			}
			for _, k := range sortedKeys(n) {
				walk(n[k], where+"."+k)
			}
		case []any:
			for _, e := range n {
				walk(e, where+"[]")
			}
		}
	}
	walk(map[string]any(doc), "")

	// Operation IDs are unique; every path parameter is declared, and only those.
	ids := map[string]string{}
	for _, o := range doc.operations(t) {
		id, _ := o.op["operationId"].(string)
		switch {
		case id == "":
			t.Errorf("%s has no operationId", o)
		case ids[id] != "":
			t.Errorf("%s and %s share the operationId %q", ids[id], o, id)
		}
		ids[id] = o.String()

		var inTemplate []string
		for _, m := range regexp.MustCompile(`\{([^}]+)\}`).FindAllStringSubmatch(o.path, -1) {
			inTemplate = append(inTemplate, m[1])
		}
		var declared []string
		params, _ := o.item["parameters"].([]any)
		opParams, _ := o.op["parameters"].([]any)
		for i, p := range append(slices.Clone(params), opParams...) {
			pm := doc.mustResolve(t, p, fmt.Sprintf("%s parameter %d", o, i))
			if pm["in"] == "path" {
				declared = append(declared, pm["name"].(string))
				if pm["required"] != true {
					t.Errorf("%s: path parameter %v must be required", o, pm["name"])
				}
			}
		}
		sort.Strings(inTemplate)
		sort.Strings(declared)
		if !slices.Equal(inTemplate, declared) {
			t.Errorf("%s: path parameters declared %v, want %v", o, declared, inTemplate)
		}
	}

	// The router serves this very document.
	rec := httptest.NewRecorder()
	newTestRouter(Config{}, Deps{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/openapi.yaml", nil))
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/yaml" || rec.Body.String() != string(openAPI) {
		t.Errorf("GET /openapi.yaml: %d %q, %d bytes; want 200 application/yaml with the embedded document",
			rec.Code, rec.Header().Get("Content-Type"), rec.Body.Len())
	}
}

func TestOpenAPIPathsMatchRoutes(t *testing.T) {
	doc := loadSpec(t)
	routes := registeredRoutes(t, New(Config{Codec: testCodecConfig(t)}, Deps{Metrics: prometheus.NewRegistry()}, slog.New(slog.DiscardHandler)))
	if len(routes) == 0 {
		t.Fatal("the router registered no routes")
	}
	var documented []string
	for _, o := range doc.operations(t) {
		documented = append(documented, o.String())
	}
	sameSet(t, "routes", documented, routes)
}

func TestOpenAPIErrorResponsesAreProblems(t *testing.T) {
	doc := loadSpec(t)
	if typ := doc.schema(t, "Problem")["type"]; typ != "object" {
		t.Errorf("schema Problem: type %v, want object", typ)
	}
	for _, o := range doc.operations(t) {
		responses := asMap(t, o.op["responses"], o.String()+" responses")
		has := func(code string) bool { _, ok := responses[code]; return ok }
		var errorCodes int
		for _, code := range sortedKeys(responses) {
			where := o.String() + " " + code
			resp := doc.mustResolve(t, responses[code], where)
			if d, _ := resp["description"].(string); strings.TrimSpace(d) == "" {
				t.Errorf("%s: no description", where)
			}
			content, _ := resp["content"].(map[string]any)
			isError := code == "default" || strings.HasPrefix(code, "4") || strings.HasPrefix(code, "5")
			if !isError {
				if _, ok := content[problem.ContentType]; ok {
					t.Errorf("%s: a success answer with %s content", where, problem.ContentType)
				}
				continue
			}
			errorCodes++
			if nonProblemErrors[where] {
				continue
			}
			if len(content) != 1 || content[problem.ContentType] == nil {
				t.Errorf("%s: content %v, want only %s", where, sortedKeys(content), problem.ContentType)
				continue
			}
			media := asMap(t, content[problem.ContentType], where+" content")
			sch, _ := media["schema"].(map[string]any)
			if ref, _ := sch["$ref"].(string); ref != problemSchemaRef {
				t.Errorf("%s: schema %v, want $ref %s", where, media["schema"], problemSchemaRef)
			}
		}

		// What the shared plumbing answers, every operation that can get it declares.
		var want []string
		if strings.HasPrefix(o.path, "/v1/") {
			want = append(want, "500", "503") // unexpected errors; Temporal or a service down
			if errorCodes == 0 {
				t.Errorf("%s declares no error answer", o)
			}
		}
		if o.op["requestBody"] != nil {
			want = append(want, "400", "413", "415", "422") // strict JSON binding and validation
		}
		if strings.HasPrefix(o.path, "/v1/orders/{orderId}") {
			want = append(want, "404")
		}
		for _, code := range want {
			if !has(code) {
				t.Errorf("%s does not declare %s", o, code)
			}
		}
	}
}

func TestOpenAPIOperatorSecurity(t *testing.T) {
	doc := loadSpec(t)
	schemes := asMap(t, asMap(t, doc["components"], "components")["securitySchemes"], "components.securitySchemes")
	bearer := asMap(t, schemes["operatorToken"], "securitySchemes.operatorToken")
	if bearer["type"] != "http" || bearer["scheme"] != "bearer" {
		t.Errorf("securitySchemes.operatorToken: %v, want type http, scheme bearer", bearer)
	}
	if _, ok := doc["security"]; ok {
		t.Error("a top-level security requirement would put every endpoint behind a token; declare it per operation")
	}

	// Which routes the router guards: without credentials they answer 401, with a
	// wrong token 403, with a right one neither.
	h := newTestRouter(Config{OperatorTokens: []string{"op-token"}, Codec: testCodecConfig(t)}, Deps{Orders: unserved{}, Catalog: unserved{}})
	var guarded []string
	for _, route := range registeredRoutes(t, h) {
		method, path, _ := strings.Cut(route, " ")
		target := regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(path, "probe-1")
		call := func(auth string) (int, string) {
			req := httptest.NewRequest(method, target, nil)
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			var p problem.Problem
			_ = json.Unmarshal(rec.Body.Bytes(), &p)
			return rec.Code, p.Code
		}
		status, code := call("")
		if status != http.StatusUnauthorized {
			continue
		}
		guarded = append(guarded, route)
		if code != "Unauthorized" {
			t.Errorf("%s without a token: code %q, want Unauthorized", route, code)
		}
		if status, _ := call("Bearer not-a-token"); status != http.StatusForbidden {
			t.Errorf("%s with a wrong token: %d, want 403", route, status)
		}
		if status, _ := call("Bearer op-token"); status == http.StatusUnauthorized || status == http.StatusForbidden {
			t.Errorf("%s with an operator token: %d", route, status)
		}
	}
	sameSet(t, "operator routes (this test's list vs the router)", operatorRoutes, guarded)

	var declared []string
	for _, o := range doc.operations(t) {
		responses := asMap(t, o.op["responses"], o.String()+" responses")
		reqs, _ := o.op["security"].([]any)
		usesBearer := false
		for _, r := range reqs {
			if _, ok := asMap(t, r, o.String()+" security")["operatorToken"]; ok {
				usesBearer = true
			}
		}
		if !usesBearer {
			continue
		}
		declared = append(declared, o.String())
		for _, code := range []string{"401", "403"} {
			if _, ok := responses[code]; !ok {
				t.Errorf("%s needs a token but does not declare %s", o, code)
			}
		}
	}
	sameSet(t, "operator operations (openapi.yaml vs the router)", declared, guarded)
}

func TestOpenAPIEnums(t *testing.T) {
	doc := loadSpec(t)
	enum := func(name string) []string {
		return stringList(t, doc.schema(t, name)["enum"], "schema "+name+" enum")
	}

	statuses := []saga.OrderStatus{
		saga.StatusPending, saga.StatusReserved, saga.StatusAwaitingApproval,
		saga.StatusPaid, saga.StatusShippingScheduled, saga.StatusCompensating,
		saga.StatusNeedsAttention, saga.StatusCompleted, saga.StatusRejected,
		saga.StatusCancelled,
	}
	var want []string
	for _, s := range statuses {
		want = append(want, string(s))
	}
	sameSet(t, "OrderStatus", enum("OrderStatus"), want)
	for _, s := range enum("OrderStatus") {
		if !order.Status(s).Valid() {
			t.Errorf("OrderStatus %q is not an order service status, so ?status=%s is refused", s, s)
		}
	}

	want = nil
	for _, s := range []saga.StepStatus{
		saga.StepPending, saga.StepRunning, saga.StepCompleted, saga.StepFailed,
		saga.StepSkipped, saga.StepCompensating, saga.StepCompensated,
		saga.StepCompensationFailed,
	} {
		want = append(want, string(s))
	}
	sameSet(t, "StepStatus", enum("StepStatus"), want)

	want = nil
	for _, s := range saga.Steps {
		want = append(want, string(s))
	}
	if got := enum("StepName"); !slices.Equal(got, want) {
		t.Errorf("StepName: %v, want the saga's steps in order %v", got, want)
	}

	// Problem codes: the API's table, the shared ones, and the generic 500.
	want = nil
	for _, c := range codes {
		want = append(want, c.Code)
	}
	for _, err := range []error{
		httpx.ErrMalformed, httpx.ErrUnsupportedMediaType, httpx.ErrTooLarge, validate.ErrInvalid,
		httpx.ErrRouteNotFound, httpx.ErrMethodNotAllowed, httpx.ErrUnauthorized, httpx.ErrForbidden,
		httpx.ErrUnavailable, errors.New("anything else"),
	} {
		p, _ := codes.Problem(err)
		if !slices.Contains(want, p.Code) {
			want = append(want, p.Code)
		}
	}
	sameSet(t, "ProblemCode", enum("ProblemCode"), want)
}

func TestOpenAPISchemasMatchGoTypes(t *testing.T) {
	doc := loadSpec(t)
	// Answers: every field without omitempty is always present, so it is required.
	answers := map[string]any{
		"OrderView":         app.OrderView{},
		"Item":              saga.Item{},
		"StepState":         saga.StepState{},
		"CompensationState": saga.CompensationState{},
		"ErrorInfo":         saga.ErrorInfo{},
		"Failure":           saga.Failure{},
		"Attention":         saga.Attention{},
		"Event":             saga.Event{},
		"Links":             app.Links{},
		"OrderList":         app.OrderList{},
		"Product":           inventory.Product{},
		"ProductList":       inventory.ProductList{},
		"Readiness":         Readiness{},
		"Problem":           problem.Problem{},
		"FieldError":        validate.FieldError{},
	}
	// Requests: bodies are decoded strictly, so unknown fields are refused.
	requests := map[string]any{
		"PlaceOrderRequest": app.PlaceRequest{},
		"ItemRequest":       app.ItemRequest{},
		"Address":           saga.Address{},
		"DecisionRequest":   app.Decision{},
		"ProductUpdate":     inventory.ProductUpdate{},
	}
	check := func(name string, v any, answer bool) {
		sch := doc.schema(t, name)
		props, _ := sch["properties"].(map[string]any)
		fields := jsonFields(reflect.TypeOf(v))
		sameSet(t, "schema "+name+" properties", sortedKeys(props), sortedKeys(fields))
		var required []string
		if sch["required"] != nil {
			required = stringList(t, sch["required"], "schema "+name+" required")
		}
		if answer {
			var always []string
			for f, omitempty := range fields {
				if !omitempty {
					always = append(always, f)
				}
			}
			sameSet(t, "schema "+name+" required", required, always)
			return
		}
		if sch["additionalProperties"] != false {
			t.Errorf("schema %s: additionalProperties must be false (unknown fields are refused)", name)
		}
		for _, r := range required {
			if _, ok := fields[r]; !ok {
				t.Errorf("schema %s requires %q, which is not a field", name, r)
			}
		}
	}
	for _, name := range sortedKeys(answers) {
		check(name, answers[name], true)
	}
	for _, name := range sortedKeys(requests) {
		check(name, requests[name], false)
	}
}

// jsonFields returns the JSON field names of a struct type, with whether each is
// omitempty; embedded structs without a tag contribute their fields.
func jsonFields(t reflect.Type) map[string]bool {
	out := map[string]bool{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			for k, v := range jsonFields(f.Type) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = slices.Contains(strings.Split(opts, ","), "omitempty")
	}
	return out
}

// unserved stands in for every dependency in the probes: each call fails at once.
type unserved struct{}

var errUnserved = errors.New("not served in this test")

func (unserved) Place(context.Context, app.PlaceRequest, string, time.Duration) (app.Placed, error) {
	return app.Placed{}, errUnserved
}

func (unserved) Get(context.Context, string) (app.OrderView, error) {
	return app.OrderView{}, errUnserved
}

func (unserved) GetLive(context.Context, string) (app.OrderView, error) {
	return app.OrderView{}, errUnserved
}

func (unserved) Await(context.Context, string, time.Duration) (app.OrderView, error) {
	return app.OrderView{}, errUnserved
}

func (unserved) List(context.Context, order.ListQuery) (app.OrderList, error) {
	return app.OrderList{}, errUnserved
}

func (unserved) Cancel(context.Context, string, app.Decision) (app.OrderView, error) {
	return app.OrderView{}, errUnserved
}

func (unserved) Decide(context.Context, string, app.Action, app.Decision) (app.OrderView, error) {
	return app.OrderView{}, errUnserved
}

func (unserved) Products(context.Context) ([]inventory.Product, error) { return nil, errUnserved }

func (unserved) UpsertProduct(context.Context, string, inventory.ProductUpdate) (inventory.Product, error) {
	return inventory.Product{}, errUnserved
}
