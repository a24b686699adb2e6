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
	"slices"
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
	ports := map[string]int{"TEMPORAL_PORT": freePort(), "TEMPORAL_UI_PORT": freePort(), "API_PORT": freePort(), "WORKER_PORT": freePort(), "TEMPORAL_METRICS_PORT": freePort(), "NATS_PORT": freePort()}
	for _, svc := range config.ServiceNames {
		ports[config.EnvName(svc, "PORT")] = freePort()
	}
	environ := []string{"DATA_DIR=" + t.TempDir(), "OPERATOR_TOKENS="}
	for k, v := range ports {
		environ = append(environ, k+"="+strconv.Itoa(v))
	}
	m := startMake(t, "run", environ)
	pids := m.awaitBanner(t, 3*time.Minute, "temporal", "services", "worker", "api")
	if !strings.Contains(m.log.String(), "operator token dev-") {
		t.Errorf("make run did not print a dev operator token:\n%s", m.log.String())
	}

	apiURL := fmt.Sprintf("http://127.0.0.1:%d", ports["API_PORT"])
	s := &stack{apiURL: apiURL}
	v := s.place(t, orderRequest("cust-1", "pm_card_visa", "US", "SKU-BOOK:2"))
	if v.Status != saga.StatusCompleted {
		t.Fatalf("order through make run = %s %+v, want COMPLETED", v.Status, v.Failure)
	}

	m.interrupt(t, pids)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, apiURL+"/healthz", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		t.Errorf("the API still answers after Ctrl-C")
	}
}

// makeTarget is `make <target>` running in its own process group, as a terminal's
// foreground job, with its output collected line by line.
type makeTarget struct {
	target string
	cmd    *exec.Cmd
	lines  chan string
	log    strings.Builder
}

// startMake starts `make -s target` in the repository with environ added.
func startMake(t testing.TB, target string, environ []string) *makeTarget {
	t.Helper()
	m := &makeTarget{target: target, cmd: exec.Command("make", "-s", target), lines: make(chan string, 1000)}
	m.cmd.Dir = env.root
	m.cmd.Env = append(os.Environ(), environ...)
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its own group, like a terminal's foreground job
	out, err := m.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	m.cmd.Stderr = m.cmd.Stdout
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL) })
	// The whole output also goes to a file among the e2e logs, kept when a test fails.
	logFile, err := os.CreateTemp(env.logDir, "make-"+target+"-*.log")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the output of make %s is in %s", target, logFile.Name())
		}
	})
	go func() {
		defer logFile.Close()
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			fmt.Fprintln(logFile, sc.Text())
			m.lines <- sc.Text()
		}
		close(m.lines)
	}()
	return m
}

// awaitBanner reads the output until the banner's process list, which must name exactly
// the processes want, and returns their PIDs. The output is drained from then on.
func (m *makeTarget) awaitBanner(t testing.TB, timeout time.Duration, want ...string) map[string]int {
	t.Helper()
	pidsLine := regexp.MustCompile(`processes\s+(.*)$`)
	deadline := time.After(timeout)
	for {
		select {
		case line, ok := <-m.lines:
			if !ok {
				t.Fatalf("make %s ended before it was ready:\n%s", m.target, m.log.String())
			}
			m.log.WriteString(line + "\n")
			if match := pidsLine.FindStringSubmatch(line); match != nil {
				go func() { // keep draining the output
					for range m.lines {
					}
				}()
				return parsePids(t, match[1], want)
			}
		case <-deadline:
			t.Fatalf("make %s not ready after %s:\n%s", m.target, timeout, m.log.String())
		}
	}
}

// interrupt presses Ctrl-C (the terminal sends SIGINT to the foreground process group),
// waits up to a minute for make to end, and checks that every one of pids is gone.
func (m *makeTarget) interrupt(t testing.TB, pids map[string]int) {
	t.Helper()
	if err := syscall.Kill(-m.cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.cmd.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatalf("make %s: %v", m.target, err)
		}
	case <-time.After(time.Minute):
		t.Fatalf("make %s did not stop within a minute of Ctrl-C", m.target)
	}
	for name, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("%s (pid %d) is still running after Ctrl-C", name, pid)
		}
	}
}

// parsePids reads "temporal=1 services=2 ..." from a banner; the names must be want's.
func parsePids(t testing.TB, s string, want []string) map[string]int {
	t.Helper()
	pids := map[string]int{}
	var names []string
	for _, f := range strings.Fields(s) {
		name, pid, _ := strings.Cut(f, "=")
		n, err := strconv.Atoi(pid)
		if err != nil {
			t.Fatalf("bad process list %q", s)
		}
		pids[name] = n
		names = append(names, name)
	}
	if !slices.Equal(names, want) {
		t.Fatalf("process list %q, want %v", s, want)
	}
	return pids
}
