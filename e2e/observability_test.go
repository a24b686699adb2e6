package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga/internal/servicetest"

	"go.yaml.in/yaml/v3"

	"github.com/ordersaga/ordersaga/app"
	"github.com/ordersaga/ordersaga/internal/config"
	"github.com/ordersaga/ordersaga/internal/faults"
	"github.com/ordersaga/ordersaga/saga"
)

// envRequirePrometheus makes a missing Prometheus fail the observability test instead of
// skipping it (CI sets it; .ci/run installs Debian's prometheus package).
const envRequirePrometheus = "ORDERSAGA_REQUIRE_PROMETHEUS"

// TestObservability runs a stack of its own that exports its spans to an in-memory OTLP
// collector, and a real Prometheus scraping each of its processes (and the dev server)
// with the rules of deploy/observability. It places orders of every outcome and checks
// the counters, the alert and dashboard expressions, a trace across the processes, and
// that a replayed workflow does not count twice.
func TestObservability(t *testing.T) {
	promBin := prometheusBinary(t)
	obsDir := filepath.Join(env.root, "deploy", "observability")
	for _, args := range [][]string{{"check", "config", filepath.Join(obsDir, "prometheus.yml")}, {"check", "rules", filepath.Join(obsDir, "alerts.yml")}} {
		if out, err := exec.Command(filepath.Join(filepath.Dir(promBin), "promtool"), args...).CombinedOutput(); err != nil {
			t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}

	col := newCollector()
	t.Cleanup(col.srv.Close)
	s, err := newStack("observed", env.tempAddr, []string{
		"OTEL_EXPORTER_OTLP_ENDPOINT=" + col.srv.URL,
		"OTEL_BSP_SCHEDULE_DELAY=100", // export spans within a tenth of a second
		"OBSERVE_INTERVAL=1s",
	})
	if err != nil {
		t.Fatal(err)
	}
	prom := startPrometheus(t, promBin, s, obsDir)
	final := func(v app.OrderView) bool { return v.Status.Final() }

	var tracedOrder app.OrderView
	t.Run("after k completed and m rejected orders the counters say k and m", func(t *testing.T) {
		const completed, rejected = 3, 2
		cust := s.newCustomer(t, 100000)
		for i := range completed {
			v := s.place(t, orderRequest(cust, "pm_card_visa", "US", "SKU-BOOK:1"))
			if v.Status != saga.StatusCompleted {
				t.Fatalf("order %d: %s, want COMPLETED", i, v.Status)
			}
			tracedOrder = v
		}
		for range rejected {
			v := s.place(t, orderRequest(cust, "pm_card_declined", "US", "SKU-BOOK:1"))
			wantRejected(t, v, saga.StepChargePayment, saga.PaymentDeclined)
		}
		prom.wantValue(t, `sum(ordersaga_orders_started_total)`, completed+rejected)
		prom.wantValue(t, `sum(ordersaga_orders_finished_total{outcome="completed"})`, completed)
		prom.wantValue(t, `sum(ordersaga_orders_finished_total{outcome="rejected",failed_step="ChargePayment",error_type="PaymentDeclined"})`, rejected)
		prom.wantValue(t, `sum(ordersaga_compensations_total{step="ReserveInventory",result="succeeded"})`, rejected)
		prom.wantValue(t, `sum(ordersaga_orders_placed_total{result="started"})`, completed+rejected)
		prom.wantValue(t, `sum(ordersaga_saga_duration_seconds_count)`, completed+rejected)
	})

	t.Run("one trace from the POST through the workflow and the activities to the SQL", func(t *testing.T) {
		if tracedOrder.TraceID == "" {
			t.Fatalf("the order view has no traceId: %+v", tracedOrder.OrderState)
		}
		// The chain, from the payment service's SQL up to the API's request.
		want := []struct{ service, name string }{
			{"ordersaga-payment", "SQL "},
			{"ordersaga-payment", "POST /payments"},
			{"ordersaga-worker", "POST /payments"},
			{"ordersaga-worker", "RunActivity:ChargePayment"},
			{"ordersaga-worker", "StartActivity:ChargePayment"},
			{"ordersaga-worker", "RunWorkflow:OrderWorkflow"},
			{"ordersaga-api", "UpdateWithStartWorkflow:"}, // POST ?wait starts and waits in one call
			{"ordersaga-api", "POST /v1/orders"},
		}
		var chain []span
		deadline := time.Now().Add(20 * time.Second)
		for {
			chain = chargeChain(col.trace(tracedOrder.TraceID))
			if len(chain) == len(want) || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		var got []string
		for _, sp := range chain {
			got = append(got, sp.service+" "+sp.name)
		}
		ok := len(chain) == len(want)
		for i := 0; ok && i < len(want); i++ {
			ok = chain[i].service == want[i].service && strings.HasPrefix(chain[i].name, want[i].name)
		}
		if !ok {
			t.Fatalf("the chain from ChargePayment's SQL to the root is\n  %s\nwant %v\n(%d spans in the trace)",
				strings.Join(got, "\n  "), want, len(col.trace(tracedOrder.TraceID)))
		}
		if root := chain[len(chain)-1]; root.parentID != "" && root.parentID != "0000000000000000" {
			t.Errorf("the API's span has a parent %s: the trace should start at the POST", root.parentID)
		}
		if q := chain[0].attrs["db.query.text"]; !strings.Contains(strings.ToLower(q), "payments") {
			t.Errorf("the SQL span's statement is %q, want one on the payments table", q)
		}
	})

	t.Run("a compensation failure shows in the counters, the gauge and the alert", func(t *testing.T) {
		cust := s.newCustomer(t, 100000)
		fc := injectFaults(t, s.payments.Faults(), faults.Config{ErrorRate: 1, Operations: []string{"refund"}})
		r := s.call(t, http.MethodPost, "/v1/orders", orderRequest(cust, "pm_card_visa", "XX", "SKU-BOOK:1"))
		id := r.view(t).OrderID
		s.await(t, id, 30*time.Second, "NEEDS_ATTENTION", func(v app.OrderView) bool { return v.Status == saga.StatusNeedsAttention })
		prom.wantValue(t, `sum(ordersaga_compensations_total{step="ChargePayment",result="failed"})`, 1)
		prom.wantValue(t, `sum(ordersaga_orders_needed_attention_total{step="ChargePayment"})`, 1)
		prom.wantValue(t, `max(ordersaga_orders_in_status{status="NEEDS_ATTENTION"})`, 1)
		prom.wantAlert(t, "OrdersNeedAttention", "pending")
		prom.wantAlert(t, "CompensationFailures", "firing")

		if err := fc.Set(context.Background(), faults.Config{}); err != nil {
			t.Fatal(err)
		}
		d := s.call(t, http.MethodPost, "/v1/orders/"+id+"/retry-compensations", map[string]string{"note": "refunds are back"},
			"Authorization", "Bearer "+operatorToken)
		if d.status >= 300 {
			t.Fatalf("retry-compensations: %d %s", d.status, d.body)
		}
		v := s.await(t, id, 30*time.Second, "the end", final)
		wantRejected(t, v, saga.StepScheduleShipping, saga.ShippingUnavailable)
		prom.wantValue(t, `sum(ordersaga_compensations_total{step="ChargePayment",result="succeeded"})`, 1)
		prom.wantValue(t, `max(ordersaga_orders_in_status{status="NEEDS_ATTENTION"})`, 0)
	})

	t.Run("a customer's cancel and an operator's rejection end as cancelled and rejected", func(t *testing.T) {
		cust := s.newCustomer(t, 500000)
		injectFaults(t, s.payments.Faults(), faults.Config{LatencyMs: 2000, Operations: []string{"charge"}})
		id := s.call(t, http.MethodPost, "/v1/orders", orderRequest(cust, "pm_card_visa", "US", "SKU-BOOK:1")).view(t).OrderID
		s.await(t, id, 10*time.Second, "ChargePayment running", func(v app.OrderView) bool {
			return stepStatus(v, saga.StepChargePayment) == saga.StepRunning
		})
		if c := s.call(t, http.MethodPost, "/v1/orders/"+id+"/cancel", map[string]string{"note": "changed my mind"}); c.status >= 300 {
			t.Fatalf("cancel: %d %s", c.status, c.body)
		}
		if v := s.await(t, id, 30*time.Second, "the end", final); v.Status != saga.StatusCancelled {
			t.Fatalf("after cancel: %s", v.Status)
		}
		big := s.place(t, orderRequest(cust, "pm_card_visa", "US", "SKU-LAPTOP:1"))
		if d := s.call(t, http.MethodPost, "/v1/orders/"+big.OrderID+"/reject", map[string]string{"note": "no"},
			"Authorization", "Bearer "+operatorToken); d.status >= 300 {
			t.Fatalf("reject: %d %s", d.status, d.body)
		}
		wantRejected(t, s.await(t, big.OrderID, 30*time.Second, "the end", final), saga.StepApproval, saga.ApprovalRejected)
		prom.wantValue(t, `sum(ordersaga_orders_finished_total{outcome="cancelled"})`, 1)
		prom.wantValue(t, `sum(ordersaga_orders_finished_total{outcome="rejected",failed_step="Approval",error_type="ApprovalRejected"})`, 1)
	})

	t.Run("every dashboard and alert expression returns data", func(t *testing.T) {
		for _, e := range dashboardExprs(t, filepath.Join(obsDir, "grafana", "ordersaga.json")) {
			prom.wantData(t, "dashboard", e)
		}
		for _, r := range alertRules(t, filepath.Join(obsDir, "alerts.yml")) {
			// A rule's comparison holds only when something is wrong; what must exist is
			// each series it reads.
			for _, sel := range selectors(r.Expr) {
				prom.wantData(t, "alert "+r.Alert, sel)
			}
		}
		prom.wantValue(t, `min(up)`, 1) // every process of the stack and the dev server
	})

	t.Run("a workflow replayed by a new worker does not count twice", func(t *testing.T) {
		cust := s.newCustomer(t, 500000)
		v := s.place(t, orderRequest(cust, "pm_card_visa", "US", "SKU-LAPTOP:1"))
		if v.Status != saga.StatusAwaitingApproval {
			t.Fatalf("a $1,200 order is %s, want AWAITING_APPROVAL", v.Status)
		}
		prom.wantValue(t, `max(ordersaga_orders_in_status{status="AWAITING_APPROVAL"})`, 1)
		before := scrape(t, s.workerURL+"/metrics")
		if got := before.sum("ordersaga_orders_started_total"); got < 1 {
			t.Fatalf("the first worker counted %g orders started, want the order among them", got)
		}
		s.killWorker()
		if err := s.startWorker(); err != nil {
			t.Fatal(err)
		}
		s.mu.Lock()
		w := s.worker
		s.mu.Unlock()
		if err := waitOK(s.workerURL+"/readyz", w); err != nil {
			t.Fatal(err)
		}
		d := s.call(t, http.MethodPost, "/v1/orders/"+v.OrderID+"/approve", map[string]string{"note": "ok"},
			"Authorization", "Bearer "+operatorToken)
		if d.status >= 300 {
			t.Fatalf("approve: %d %s", d.status, d.body)
		}
		if done := s.await(t, v.OrderID, 30*time.Second, "completion", final); done.Status != saga.StatusCompleted {
			t.Fatalf("after approval: %s", done.Status)
		}
		// The new worker replayed the order's history from its start (it had no cache):
		// what the old worker counted, it must not count again.
		m := scrape(t, s.workerURL+"/metrics")
		for metric, want := range map[string]float64{
			"ordersaga_orders_started_total":                                     0,
			`ordersaga_orders_finished_total{outcome="completed"}`:               1,
			`ordersaga_step_duration_seconds_count{step="ReserveInventory"}`:     0,
			`ordersaga_step_duration_seconds_count{step="ChargePayment"}`:        1,
			`ordersaga_step_attempts_count{step="CreateOrder"}`:                  0,
			`ordersaga_service_call_duration_seconds_count{service="inventory"}`: 0,
		} {
			if got := m.sum(metric); got != want {
				t.Errorf("the new worker's %s = %g, want %g", metric, got, want)
			}
		}
	})

	s.checkBooks(t)
}

// chargeChain returns the spans from a SQL statement run by the payment service for
// ChargePayment up to the trace's root: the deepest chain through RunActivity:ChargePayment.
func chargeChain(spans []span) []span {
	byID := map[string]span{}
	for _, sp := range spans {
		byID[sp.spanID] = sp
	}
	var best []span
	for _, sp := range spans {
		if sp.service != "ordersaga-payment" || !strings.HasPrefix(sp.name, "SQL ") {
			continue
		}
		chain := []span{sp}
		for cur := sp; ; {
			parent, ok := byID[cur.parentID]
			if !ok {
				break
			}
			chain = append(chain, parent)
			cur = parent
		}
		if slices.ContainsFunc(chain, func(s span) bool { return s.name == "RunActivity:ChargePayment" }) && len(chain) > len(best) {
			best = chain
		}
	}
	return best
}

// --- Prometheus ---------------------------------------------------------------------

// prometheusBinary finds Prometheus (ORDERSAGA_PROMETHEUS, or prometheus on the PATH), or
// skips the test (fails it when ORDERSAGA_REQUIRE_PROMETHEUS is set).
func prometheusBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("ORDERSAGA_PROMETHEUS"); p != "" {
		return p
	}
	p, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv(envRequirePrometheus) != "" {
			t.Fatalf("%s is set but prometheus is not installed (apt-get install prometheus)", envRequirePrometheus)
		}
		t.Skip("prometheus is not installed (apt-get install prometheus): skipping the observability test")
	}
	return p
}

type prometheus struct {
	url string
}

// startPrometheus runs Prometheus with deploy/observability's configuration, its targets
// pointed at s's processes and the dev server, scraping and evaluating every second.
func startPrometheus(t *testing.T, bin string, s *stack, obsDir string) *prometheus {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(obsDir, "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	host := func(u string) string { return strings.TrimPrefix(u, "http://") }
	cfg["global"] = map[string]any{"scrape_interval": "1s", "evaluation_interval": "1s"}
	cfg["rule_files"] = []string{filepath.Join(obsDir, "alerts.yml")}
	targets := map[string][]map[string]any{
		"ordersaga-api":    {{"targets": []string{host(s.apiURL)}}},
		"ordersaga-worker": {{"targets": []string{host(s.workerURL)}}},
		"temporal":         {{"targets": []string{env.tempMetrics}}},
	}
	for _, svc := range config.ServiceNames {
		targets["ordersaga-services"] = append(targets["ordersaga-services"],
			map[string]any{"targets": []string{host(s.urls[svc])}, "labels": map[string]string{"service": svc}})
	}
	jobs, _ := cfg["scrape_configs"].([]any)
	for _, j := range jobs {
		job := j.(map[string]any)
		name, _ := job["job_name"].(string)
		static, ok := targets[name]
		if !ok {
			t.Fatalf("deploy/observability/prometheus.yml has job %q, which this test does not know", name)
		}
		job["static_configs"] = static
		delete(targets, name)
	}
	if len(targets) > 0 {
		t.Fatalf("deploy/observability/prometheus.yml lacks the jobs %v", targets)
	}
	dir := t.TempDir()
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgFile, out, 0o644); err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(freePort())
	p, err := startProc("prometheus", bin, []string{"--config.file=" + cfgFile, "--storage.tsdb.path=" + filepath.Join(dir, "data"),
		"--web.listen-address=" + addr, "--log.level=warn"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop(10 * time.Second) })
	if err := waitOK("http://"+addr+"/-/ready", p); err != nil {
		t.Fatal(err)
	}
	return &prometheus{url: "http://" + addr}
}

type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

func (p *prometheus) query(expr string) ([]promSample, error) {
	resp, err := http.Get(p.url + "/api/v1/query?query=" + url.QueryEscape(expr))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []promSample `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, err
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("query %s: %s", expr, body.Error)
	}
	return body.Data.Result, nil
}

// eventually polls fn every 200ms for up to 30s (a few scrapes and rule evaluations).
func eventually(fn func() (bool, string)) (bool, string) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, last := fn()
		if ok || time.Now().After(deadline) {
			return ok, last
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// wantValue waits until expr evaluates to one sample equal to want.
func (p *prometheus) wantValue(t *testing.T, expr string, want float64) {
	t.Helper()
	ok, last := eventually(func() (bool, string) {
		res, err := p.query(expr)
		if err != nil {
			return false, err.Error()
		}
		if len(res) != 1 {
			return false, fmt.Sprintf("%d samples", len(res))
		}
		v, _ := strconv.ParseFloat(fmt.Sprint(res[0].Value[1]), 64)
		return v == want, fmt.Sprint(res[0].Value[1])
	})
	if !ok {
		t.Errorf("Prometheus: %s = %s, want %g", expr, last, want)
	}
}

// wantData waits until expr returns at least one sample.
func (p *prometheus) wantData(t *testing.T, where, expr string) {
	t.Helper()
	ok, last := eventually(func() (bool, string) {
		res, err := p.query(expr)
		if err != nil {
			return false, err.Error()
		}
		return len(res) > 0, "no data"
	})
	if !ok {
		t.Errorf("%s: %s: %s", where, expr, last)
	}
}

// wantAlert waits until the alert is in state (pending or firing).
func (p *prometheus) wantAlert(t *testing.T, name, state string) {
	t.Helper()
	ok, last := eventually(func() (bool, string) {
		resp, err := http.Get(p.url + "/api/v1/alerts")
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		var body struct {
			Data struct {
				Alerts []struct {
					Labels map[string]string `json:"labels"`
					State  string            `json:"state"`
				} `json:"alerts"`
			} `json:"data"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			return false, err.Error()
		}
		var states []string
		for _, a := range body.Data.Alerts {
			states = append(states, a.Labels["alertname"]+"="+a.State)
			if a.Labels["alertname"] == name && a.State == state {
				return true, ""
			}
		}
		return false, strings.Join(states, ", ")
	})
	if !ok {
		t.Errorf("alert %s is not %s; alerts: %s", name, state, last)
	}
}

// dashboardExprs returns every query of the Grafana dashboard, with Grafana's range
// variable replaced by a minute.
func dashboardExprs(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			out = append(out, strings.ReplaceAll(tg.Expr, "$__rate_interval", "1m"))
		}
	}
	if len(out) < 10 {
		t.Fatalf("the dashboard has %d queries; did its format change?", len(out))
	}
	return out
}

type alertRule struct {
	Alert string `yaml:"alert"`
	Expr  string `yaml:"expr"`
}

func alertRules(t *testing.T, path string) []alertRule {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Rules []alertRule `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	var out []alertRule
	for _, g := range f.Groups {
		out = append(out, g.Rules...)
	}
	if len(out) < 5 {
		t.Fatalf("%s has %d rules", path, len(out))
	}
	return out
}

// selectorRE matches the series a PromQL expression reads: a metric name of ours, the
// SDK's or Prometheus's up, with its label matchers.
var selectorRE = regexp.MustCompile(`\b(?:ordersaga_|temporal_|up\b)[a-zA-Z0-9_:]*(?:\{[^}]*\})?`)

func selectors(expr string) []string {
	return slices.Compact(slices.Sorted(slices.Values(selectorRE.FindAllString(expr, -1))))
}

// metricsText is a scraped /metrics page.
type metricsText []string

func scrape(t testing.TB, url string) metricsText {
	t.Helper()
	_, data := servicetest.Send(t, http.MethodGet, url, "", "")
	return strings.Split(string(data), "\n")
}

// sum adds the values of the samples of metric (a name, optionally with label matchers
// name{k="v",...} that must all be present).
func (m metricsText) sum(metric string) float64 {
	name, want := selector(metric)
	var total float64
	for _, line := range m {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		series, value, ok := strings.Cut(line, " ")
		if !ok || !allIn(want, series) {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err == nil {
			total += v
		}
	}
	return total
}

// byLabel sums the samples of metric (as in sum) by the value of their label.
func (m metricsText) byLabel(metric, label string) map[string]float64 {
	out := map[string]float64{}
	name, want := selector(metric)
	for _, line := range m {
		series, value, ok := strings.Cut(line, " ")
		if !ok || !strings.HasPrefix(series, name+"{") || !allIn(want, series) {
			continue
		}
		_, rest, found := strings.Cut(series, label+`="`)
		if !found {
			continue
		}
		key, _, _ := strings.Cut(rest, `"`)
		if v, err := strconv.ParseFloat(strings.TrimSpace(value), 64); err == nil {
			out[key] += v
		}
	}
	return out
}

// serverCount is sum for a counter of a Temporal server, under either of its names
// (serverNames).
func (m metricsText) serverCount(metric string) float64 {
	var total float64
	for _, name := range serverNames(metric) {
		total += m.sum(name)
	}
	return total
}

// serverCountByLabel is byLabel for a counter of a Temporal server, under either of its
// names (serverNames).
func (m metricsText) serverCountByLabel(metric, label string) map[string]float64 {
	out := map[string]float64{}
	for _, name := range serverNames(metric) {
		for k, v := range m.byLabel(name, label) {
			out[k] += v
		}
	}
	return out
}

// serverNames is metric (name{k="v",...}) as the dev server writes it and as the
// cluster's server, which exports through OpenTelemetry, writes it: with _total after the
// name.
func serverNames(metric string) []string {
	name, labels, found := strings.Cut(metric, "{")
	if found {
		labels = "{" + labels
	}
	return []string{metric, name + "_total" + labels}
}

// selector splits name{k="v",...} into the name and the label matchers.
func selector(metric string) (name string, want []string) {
	name, labels, _ := strings.Cut(metric, "{")
	if labels = strings.TrimSuffix(labels, "}"); labels != "" {
		want = strings.Split(labels, ",")
	}
	return name, want
}

func allIn(parts []string, s string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
