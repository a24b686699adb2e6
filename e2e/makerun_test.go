package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga/internal/config"
	"github.com/ordersaga/ordersaga/saga"
)

// TestMakeRun runs `make run` as a newcomer would (from an empty data directory, on its
// own ports), places an order over HTTP, presses Ctrl-C, and checks that every process it
// started is gone.
func TestMakeRun(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	ports := map[string]int{"TEMPORAL_PORT": freePort(), "TEMPORAL_UI_PORT": freePort(), "API_PORT": freePort(), "WORKER_PORT": freePort(), "TEMPORAL_METRICS_PORT": freePort()}
	for _, svc := range config.ServiceNames {
		ports[config.EnvName(svc, "PORT")] = freePort()
	}
	cmd := exec.Command("make", "-s", "run")
	cmd.Dir = env.root
	cmd.Env = append(os.Environ(), "DATA_DIR="+t.TempDir(), "OPERATOR_TOKENS=")
	for k, v := range ports {
		cmd.Env = append(cmd.Env, k+"="+strconv.Itoa(v))
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its own group, like a terminal's foreground job
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })

	lines := make(chan string, 1000)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var log strings.Builder
	pidsLine := regexp.MustCompile(`processes\s+(.*)$`)
	var pids map[string]int
	deadline := time.After(3 * time.Minute)
	for pids == nil {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("make run ended before it was ready:\n%s", log.String())
			}
			log.WriteString(line + "\n")
			if m := pidsLine.FindStringSubmatch(line); m != nil {
				pids = parsePids(t, m[1])
			}
		case <-deadline:
			t.Fatalf("make run not ready after 3 minutes:\n%s", log.String())
		}
	}
	if !strings.Contains(log.String(), "operator token dev-") {
		t.Errorf("make run did not print a dev operator token:\n%s", log.String())
	}
	go func() { // keep draining the output
		for range lines {
		}
	}()

	apiURL := fmt.Sprintf("http://127.0.0.1:%d", ports["API_PORT"])
	s := &stack{apiURL: apiURL}
	v := s.place(t, orderRequest("cust-1", "pm_card_visa", "US", "SKU-BOOK:2"))
	if v.Status != saga.StatusCompleted {
		t.Fatalf("order through make run = %s %+v, want COMPLETED", v.Status, v.Failure)
	}

	// Ctrl-C: the terminal sends SIGINT to the foreground process group.
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatalf("make run: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("make run did not stop within a minute of Ctrl-C")
	}
	for name, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("%s (pid %d) is still running after Ctrl-C", name, pid)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, apiURL+"/healthz", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		t.Errorf("the API still answers after Ctrl-C")
	}
}

// parsePids reads "temporal=1 services=2 ..." from make run's banner.
func parsePids(t *testing.T, s string) map[string]int {
	t.Helper()
	pids := map[string]int{}
	for _, f := range strings.Fields(s) {
		name, pid, _ := strings.Cut(f, "=")
		n, err := strconv.Atoi(pid)
		if err != nil {
			t.Fatalf("bad process list %q", s)
		}
		pids[name] = n
	}
	if len(pids) != 4 {
		t.Fatalf("process list %q, want temporal, services, worker and api", s)
	}
	return pids
}
