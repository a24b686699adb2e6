package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga/internal/config"
	"github.com/ordersaga/ordersaga/internal/database"
	"github.com/ordersaga/ordersaga/internal/database/dbtest"
	"github.com/ordersaga/ordersaga/saga"
)

// envRequireCluster makes TestMakeRunCluster fail, rather than skip, when the cluster's
// binaries (`make cluster-tools`) or PostgreSQL are missing. CI sets it.
const envRequireCluster = "ORDERSAGA_REQUIRE_CLUSTER"

// TestMakeRunCluster runs `make run-cluster` as a newcomer would, on its own ports and
// databases: it places an order on the second API, sees it COMPLETED, finds it through the
// Web UI server's API and with `temporal workflow list`, presses Ctrl-C, and checks that
// every process is gone.
func TestMakeRunCluster(t *testing.T) {
	pgURL := os.Getenv(dbtest.EnvURL)
	missing := ""
	for _, bin := range []string{"temporal-server", "temporal-sql-tool", "temporal-ui-server"} {
		if _, err := os.Stat(filepath.Join(env.root, "bin", bin)); err != nil {
			missing = "bin/" + bin + " (make cluster-tools)"
		}
	}
	if pgURL == "" {
		missing = dbtest.EnvURL
	}
	if missing != "" {
		if os.Getenv(envRequireCluster) != "" {
			t.Fatalf("%s is set but %s is missing", envRequireCluster, missing)
		}
		t.Skipf("the cluster profile needs %s", missing)
	}

	prefix := "e2e_" + randomHex(4) + "_"
	t.Cleanup(func() { dropDatabases(t, pgURL, prefix) })
	ports := map[string]int{"TEMPORAL_PORT": freePortBelow(32000), "TEMPORAL_MEMBERSHIP_PORT": freePortBelow(32000),
		"TEMPORAL_UI_PORT": freePort(), "TEMPORAL_METRICS_PORT": freePort()}
	for _, svc := range config.ServiceNames {
		ports[config.EnvName(svc, "PORT")] = freePort()
	}
	apiPorts, workerPorts := []int{freePort(), freePort()}, []int{freePort(), freePort()}
	environ := []string{
		"DATABASE_URL=" + pgURL, "DB_PREFIX=" + prefix, "DATA_DIR=" + t.TempDir(), "OPERATOR_TOKENS=",
		"API_PORTS=" + joinPorts(apiPorts), "WORKER_PORTS=" + joinPorts(workerPorts),
	}
	for k, v := range ports {
		environ = append(environ, k+"="+strconv.Itoa(v))
	}
	m := startMake(t, "run-cluster", environ)
	want := []string{"temporal", "ui"}
	want = append(want, config.ServiceNames...)
	want = append(want, "worker-1", "worker-2", "api-1", "api-2")
	pids := m.awaitBanner(t, 5*time.Minute, want...)

	s := &stack{apiURL: fmt.Sprintf("http://127.0.0.1:%d", apiPorts[1])}
	v := s.place(t, orderRequest("cust-1", "pm_card_visa", "US", "SKU-BOOK:2"))
	if v.Status != saga.StatusCompleted {
		t.Fatalf("order through the second API = %s %+v, want COMPLETED", v.Status, v.Failure)
	}
	first := &stack{apiURL: fmt.Sprintf("http://127.0.0.1:%d", apiPorts[0])}
	if got := first.get(t, v.OrderID); got.Status != saga.StatusCompleted {
		t.Errorf("the first API reads the order as %s, want COMPLETED", got.Status)
	}
	workflowID := saga.WorkflowID(v.OrderID)

	// The Web UI lists it: its server answers the browser's API calls from the cluster.
	uiList := fmt.Sprintf("http://127.0.0.1:%d/api/v1/namespaces/ordersaga/workflows?query=%s",
		ports["TEMPORAL_UI_PORT"], url.QueryEscape(`WorkflowId="`+workflowID+`"`))
	if body := httpGet(t, uiList); !strings.Contains(body, workflowID) || !strings.Contains(body, "COMPLETED") {
		t.Errorf("the Web UI's workflow list does not show %s as COMPLETED:\n%s", workflowID, body)
	}
	// And the CLI finds it in the namespace.
	out, err := exec.Command(env.temporal, "workflow", "list", "--address", fmt.Sprintf("127.0.0.1:%d", ports["TEMPORAL_PORT"]),
		"--namespace", "ordersaga", "--query", `OrderStatus="COMPLETED"`, "-o", "json").CombinedOutput()
	if err != nil || !strings.Contains(string(out), workflowID) {
		t.Errorf("temporal workflow list: %v, does not list %s:\n%s", err, workflowID, out)
	}

	m.interrupt(t, pids)
}

// freePortBelow returns a port below limit, at least 16 apart from the next in use: the
// server derives its other ports from its frontend and membership ports (+1 to +10),
// and keeps membership ports in a smallint.
func freePortBelow(limit int) int {
	for {
		p := 20000 + rand.IntN(limit-20000-16)
		free := true
		for i := range 11 {
			l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+i))
			if err != nil {
				free = false
				break
			}
			l.Close()
		}
		if free {
			return p
		}
	}
}

func joinPorts(ps []int) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = strconv.Itoa(p)
	}
	return strings.Join(s, ",")
}

// httpGet returns the body of a 200 answer to GET url.
func httpGet(t *testing.T, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return string(b)
}

// dropDatabases drops the databases whose names start with prefix on pgURL's server.
func dropDatabases(t *testing.T, pgURL, prefix string) {
	db, err := database.Open(context.Background(), database.Config{URL: pgURL}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Errorf("drop the cluster's databases: %v", err)
		return
	}
	defer func() { _ = database.Close(db) }()
	var names []string
	if err := db.Raw("SELECT datname FROM pg_database WHERE datname LIKE ?", prefix+"%").Scan(&names).Error; err != nil {
		t.Errorf("list the cluster's databases: %v", err)
		return
	}
	for _, name := range names {
		if err := db.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)").Error; err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
	}
}
