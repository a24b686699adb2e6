package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga/app"
	"github.com/ordersaga/ordersaga/internal/faults"
	"github.com/ordersaga/ordersaga/internal/proc"
	"github.com/ordersaga/ordersaga/saga"
)

// TestClusterRollingUpgrade rehearses RUNBOOK.md's "Deploying a new build" on the cluster
// profile with a workflow change that moves the step sequence: the next build screens
// each order (a new activity, ScreenOrder) between ReserveInventory and the approval,
// for orders of the next saga revision, which its API stamps.
//
// With orders awaiting approval and one in NEEDS_ATTENTION, both workers and then both
// APIs are replaced one at a time (the binary swapped, the process stopped with SIGTERM
// and started again by the cluster's supervisor, as an orchestrator's rolling update
// does). Then the old orders are approved, rejected and retried: they finish on the path
// they were placed on, without the new step; new orders take it; and no workflow task of
// any of them failed (a non-determinism error would fail one, again and again).
//
// Without the revision guard the new worker would schedule ScreenOrder where an old
// order's history has the approval's timer, and every workflow task of that order would
// fail with a non-determinism error: the test fails then (checked by hand when it was
// written, with the guard removed from nextBuild's change).
func TestClusterRollingUpgrade(t *testing.T) {
	pgURL := needCluster(t)
	// The cluster runs the binaries of this tree from a directory of its own, where the
	// rollout swaps them.
	binDir := t.TempDir()
	for _, bin := range []string{"temporal-server", "temporal-sql-tool", "temporal-ui-server"} {
		if err := os.Symlink(filepath.Join(env.root, "bin", bin), filepath.Join(binDir, bin)); err != nil {
			t.Fatal(err)
		}
	}
	for _, bin := range []string{"services", "worker", "api"} {
		copyFile(t, filepath.Join(env.binDir, bin), filepath.Join(binDir, bin))
	}
	next := nextBuild(t, filepath.Join(binDir, "next"))

	c := startCluster(t, pgURL, "BIN_DIR="+binDir)
	s := c.stack
	s.apiURLs = c.apiURLs
	ctx := context.Background()
	final := func(v app.OrderView) bool { return v.Status.Final() }
	big := s.newProduct(t, 120000, 10) // $1,200.00: orders of one await approval
	small := s.newProduct(t, 1500, 100)

	// Orders of this build, left waiting.
	var ids []string
	awaiting := func(t *testing.T) (string, string) {
		cust := s.newCustomer(t, 500000)
		v := s.place(t, orderRequest(cust, "pm_card_visa", "US", big+":1"))
		if v.Status != saga.StatusAwaitingApproval {
			t.Fatalf("a $1,200 order is %s, want AWAITING_APPROVAL", v.Status)
		}
		ids = append(ids, v.OrderID)
		return v.OrderID, cust
	}
	toApprove, approveCust := awaiting(t)
	toReject, rejectCust := awaiting(t)
	stuckCust := s.newCustomer(t, 100000)
	fc := injectFaults(t, s.payments.Faults(), faults.Config{ErrorRate: 1, Operations: []string{"refund"}})
	stuck := s.place(t, orderRequest(stuckCust, "pm_card_visa", "XX", small+":2"))
	if stuck.Status != saga.StatusNeedsAttention {
		t.Fatalf("order = %s %+v, want NEEDS_ATTENTION on the refund", stuck.Status, stuck.Attention)
	}
	ids = append(ids, stuck.OrderID)
	if err := fc.Set(ctx, faults.Config{}); err != nil { // the cause is fixed; the order waits for the operator
		t.Fatal(err)
	}
	for _, id := range ids {
		if n := activityCount(t, s, id, "ScreenOrder"); n != 0 {
			t.Fatalf("order %s of this build ran ScreenOrder %d times", id, n)
		}
	}

	// The rollout: workers first, then the APIs, one process at a time.
	rollOut(t, c, filepath.Join(next, "worker"), filepath.Join(binDir, "worker"), "worker", c.workerPorts)
	rollOut(t, c, filepath.Join(next, "api"), filepath.Join(binDir, "api"), "api", c.apiPorts)

	// The old orders finish on their own path.
	s.decide(t, toApprove, "approve", map[string]string{"by": "alice"})
	if v := s.await(t, toApprove, 30*time.Second, "completion", final); v.Status != saga.StatusCompleted {
		t.Errorf("the old order approved after the rollout is %s %+v, want COMPLETED", v.Status, v.Failure)
	}
	if b := s.balance(t, approveCust); b != 500000-120000 {
		t.Errorf("balance = %d, want charged once", b)
	}
	s.decide(t, toReject, "reject", map[string]string{"by": "alice"})
	wantRejected(t, s.await(t, toReject, 30*time.Second, "rejection", final), saga.StepApproval, saga.ApprovalRejected)
	if b := s.balance(t, rejectCust); b != 500000 {
		t.Errorf("balance = %d, want nothing charged", b)
	}
	s.decide(t, stuck.OrderID, "retry-compensations", map[string]string{"by": "alice"})
	wantRejected(t, s.await(t, stuck.OrderID, 30*time.Second, "the undo", final), saga.StepScheduleShipping, saga.ShippingUnavailable)
	if b := s.balance(t, stuckCust); b != 100000 {
		t.Errorf("balance = %d, want refunded", b)
	}
	for _, id := range ids {
		if n := activityCount(t, s, id, "ScreenOrder"); n != 0 {
			t.Errorf("old order %s ran the new step ScreenOrder %d times, want its own path", id, n)
		}
	}

	// New orders take the new path.
	newOrder := s.place(t, orderRequest(s.newCustomer(t, 100000), "pm_card_visa", "US", small+":1"))
	if newOrder.Status != saga.StatusCompleted {
		t.Errorf("a new order is %s %+v, want COMPLETED", newOrder.Status, newOrder.Failure)
	}
	newBig, _ := awaiting(t) // screened before it waits
	ids = append(ids, newOrder.OrderID)
	s.decide(t, newBig, "approve", map[string]string{"by": "alice"})
	if v := s.await(t, newBig, 30*time.Second, "completion", final); v.Status != saga.StatusCompleted {
		t.Errorf("the new order approved is %s %+v, want COMPLETED", v.Status, v.Failure)
	}
	for _, id := range []string{newOrder.OrderID, newBig} {
		if n := activityCount(t, s, id, "ScreenOrder"); n != 1 {
			t.Errorf("new order %s ran ScreenOrder %d times, want once", id, n)
		}
	}

	// No workflow task failed, non-determinism or otherwise.
	for _, id := range ids {
		for _, f := range workflowTaskFailures(t, s, id) {
			t.Errorf("order %s: %s", id, f)
		}
	}
	s.checkBooks(t)
	c.make.interrupt(t, c.pids)
}

// nextBuild builds the worker and the API of the next release into dir: this tree with
// a new step, ScreenOrder, after ReserveInventory for orders of the next saga revision,
// which its API stamps. The change is applied with `go build -overlay`, so the working
// tree is left alone.
func nextBuild(t *testing.T, dir string) string {
	t.Helper()
	read := func(rel string) string {
		b, err := os.ReadFile(filepath.Join(env.root, rel))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	sagaSrc := read("saga/order.go")
	revision := regexp.MustCompile(`(?m)^const Revision = (\d+)$`)
	m := revision.FindStringSubmatch(sagaSrc)
	if m == nil {
		t.Fatal("saga/order.go has no `const Revision = N` for the next build to raise")
	}
	cur, _ := strconv.Atoi(m[1])
	nextRevision := cur + 1

	workflowSrc := read("workflows/order.go")
	const anchor = "\to.setStatus(ctx, saga.StatusReserved)\n"
	if strings.Count(workflowSrc, anchor) != 1 {
		t.Fatalf("workflows/order.go no longer has one %q for the rehearsal's new step to follow: move it", strings.TrimSpace(anchor))
	}
	step := fmt.Sprintf(`
	// The rehearsal's new step: orders of revision %[1]d are screened before approval.
	if o.in.Revision >= %[1]d {
		sctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: stepTimeout, RetryPolicy: &stepRetry})
		if err := workflow.ExecuteActivity(sctx, a.ScreenOrder, o.in.Order).Get(sctx, nil); err != nil {
			return o.abort(ctx, saga.StepReserveInventory, err)
		}
	}
`, nextRevision)
	activity := `package activities

import (
	"context"

	"github.com/ordersaga/ordersaga/saga"
)

// ScreenOrder is the rehearsal's new step; every order passes.
func (a *Activities) ScreenOrder(ctx context.Context, o saga.Order) error { return nil }
`
	files := map[string]string{
		"saga/order.go":             revision.ReplaceAllString(sagaSrc, "const Revision = "+strconv.Itoa(nextRevision)),
		"workflows/order.go":        strings.Replace(workflowSrc, anchor, anchor+step, 1),
		"activities/screenorder.go": activity,
	}
	overlay := struct{ Replace map[string]string }{Replace: map[string]string{}}
	src := t.TempDir()
	for rel, content := range files {
		path := filepath.Join(src, strings.ReplaceAll(rel, "/", "_"))
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		overlay.Replace[filepath.Join(env.root, rel)] = path
	}
	overlayJSON, _ := json.Marshal(overlay)
	overlayPath := filepath.Join(src, "overlay.json")
	if err := os.WriteFile(overlayPath, overlayJSON, 0o644); err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-overlay", overlayPath, "-o", dir+"/", "./cmd/worker", "./cmd/api")
	build.Dir = env.root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the next release: %v\n%s", err, out)
	}
	return dir
}

// rollOut replaces the cluster's processes named <name>-1, <name>-2, ... with the build
// at from: it moves the binary into place (the running processes keep the old one),
// then, one process at a time, stops it with SIGTERM, waits for it to be gone and for
// the cluster to have started its successor, ready on its port.
func rollOut(t *testing.T, c *cluster, from, to, name string, ports []int) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
	for i, port := range ports {
		part := fmt.Sprintf("%s-%d", name, i+1)
		pid := c.pids[part]
		if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
			t.Fatalf("stop %s (pid %d): %v", part, pid, err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			if time.Now().After(deadline) {
				t.Fatalf("%s (pid %d) did not stop within 30 s of SIGTERM", part, pid)
			}
			time.Sleep(20 * time.Millisecond)
		}
		delete(c.pids, part) // its successor stops with the rest
		if err := proc.WaitHTTPWithin(context.Background(), 30*time.Second, fmt.Sprintf("http://127.0.0.1:%d/readyz", port)); err != nil {
			t.Fatalf("%s was not started again on the new build: %v", part, err)
		}
		t.Logf("%s: pid %d replaced by the next build", part, pid)
	}
}

// activityCount counts the activities of type name scheduled in the order's history.
func activityCount(t *testing.T, s *stack, orderID, name string) int {
	t.Helper()
	n := 0
	for _, ev := range s.history(t, orderID) {
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil && a.GetActivityType().GetName() == name {
			n++
		}
	}
	return n
}

// workflowTaskFailures lists the failed workflow tasks in the order's history.
func workflowTaskFailures(t *testing.T, s *stack, orderID string) []string {
	t.Helper()
	var out []string
	for _, ev := range s.history(t, orderID) {
		if f := ev.GetWorkflowTaskFailedEventAttributes(); f != nil {
			out = append(out, fmt.Sprintf("workflow task failed at event %d: %s: %s", ev.GetEventId(), f.GetCause(), f.GetFailure().GetMessage()))
		}
	}
	return out
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
}
