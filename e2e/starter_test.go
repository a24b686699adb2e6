package e2e

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestStarter runs the starter CLI: it places an order through the Temporal client,
// prints the steps as they change and a Web UI link, and exits 0 only for COMPLETED.
func TestStarter(t *testing.T) {
	each(t, func(t *testing.T, s *stack) {
		run := func(args ...string) (string, int) {
			cmd := exec.Command(filepath.Join(env.binDir, "starter"), args...)
			cmd.Env = append(cmd.Environ(), s.env...)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			switch {
			case err == nil:
				return string(out), 0
			case errors.As(err, &exit):
				return string(out), exit.ExitCode()
			}
			t.Fatalf("starter: %v\n%s", err, out)
			return "", -1
		}
		cust := s.newCustomer(t, 100000)

		out, code := run("--customer", cust, "--item", "SKU-BOOK:2", "--item", "SKU-MUG:1", "--payment", "pm_card_visa", "--country", "US")
		if code != 0 {
			t.Fatalf("starter exited %d for a good order:\n%s", code, out)
		}
		// The starter prints the state after each batch of history events it receives, so
		// an intermediate status may be skipped when two steps finish in one batch; the
		// last line is always the outcome.
		for _, want := range []string{"Web UI: http://", "$38.00 for " + cust, "COMPLETED", "ConfirmOrder ✓"} {
			if !strings.Contains(out, want) {
				t.Errorf("starter printed no %q:\n%s", want, out)
			}
		}
		if b := s.balance(t, cust); b != 100000-3800 {
			t.Errorf("balance = %d, want charged $38.00", b)
		}

		out, code = run("--customer", cust, "--item", "SKU-MUG:1", "--payment", "pm_card_declined")
		if code != 1 || !strings.Contains(out, "ended REJECTED at ChargePayment") || !strings.Contains(out, "PaymentDeclined") {
			t.Errorf("starter for a declined card exited %d:\n%s\nwant 1 and the rejection", code, out)
		}
	})
}

// TestStarterProvision runs `starter provision`, as the compose stack does, on a new
// namespace of the dev server, twice: the namespace is registered with its retention and
// the search attributes can be queried, and the second run changes nothing and succeeds.
func TestStarterProvision(t *testing.T) {
	ns := "e2e-provision-" + randomHex(4)
	for run := range 2 {
		cmd := exec.Command(filepath.Join(env.binDir, "starter"), "provision", "-wait", "30s")
		cmd.Env = append(cmd.Environ(), "TEMPORAL_ADDRESS="+env.tempAddr, "TEMPORAL_NAMESPACE="+ns, "TEMPORAL_RETENTION=48h")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "namespace "+ns) || !strings.Contains(string(out), "is ready for orders") {
			t.Fatalf("run %d of starter provision: %v\n%s", run+1, err, out)
		}
	}
	out, err := exec.Command(env.temporal, "operator", "namespace", "describe", "--address", env.tempAddr, "--namespace", ns, "-o", "json").CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"workflowExecutionRetentionTtl": "172800s"`) {
		t.Errorf("namespace describe: %v, want a retention of 48h:\n%s", err, out)
	}
	out, err = exec.Command(env.temporal, "workflow", "count", "--address", env.tempAddr, "--namespace", ns,
		"--query", `OrderStatus = "COMPLETED" AND CustomerId = "c" AND OrderTotalCents > 0`).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Total: 0") {
		t.Errorf("a query naming the search attributes: %v\n%s", err, out)
	}
}
