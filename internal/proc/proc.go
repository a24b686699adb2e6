// Package proc starts and stops the child processes of `make run` and of the end-to-end
// tests. Each child runs in its own process group (so a terminal's Ctrl-C reaches only the
// parent, which stops the children in order) and is killed by the kernel if the parent
// dies, so nothing is left behind.
package proc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Proc is a running child process.
type Proc struct {
	Name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Start runs path with args and the extra environment env (added to the parent's), and
// copies its output, line by line, to out.
func Start(name, path string, args, env []string, out io.Writer) (*Proc, error) {
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Proc{Name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Pid returns the process ID.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Err returns how the process exited; call it after Done.
func (p *Proc) Err() error { return p.err }

// Stop asks the process to exit with SIGTERM, waits up to grace, then kills it. It returns
// an error when the process had to be killed or exited with a failure.
func (p *Proc) Stop(grace time.Duration) error {
	select {
	case <-p.done:
		return p.exitErr()
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
		return p.exitErr()
	case <-time.After(grace):
	}
	p.Kill()
	return fmt.Errorf("%s did not stop within %s and was killed", p.Name, grace)
}

// Kill kills the process and its group at once (SIGKILL) and waits for it.
func (p *Proc) Kill() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

func (p *Proc) exitErr() error {
	var exit *exec.ExitError
	if errors.As(p.err, &exit) && exit.Exited() && exit.ExitCode() == 0 {
		return nil
	}
	if p.err != nil && !(errors.As(p.err, &exit) && !exit.Exited()) {
		return fmt.Errorf("%s: %w", p.Name, p.err)
	}
	return nil // ended by the signal we sent
}

// PrefixWriter returns a writer that writes each line to w behind prefix. It is safe for
// concurrent use by one process's stdout and stderr.
func PrefixWriter(w io.Writer, prefix string) io.Writer {
	return &prefixWriter{w: w, prefix: []byte(prefix)}
}

type prefixWriter struct {
	mu     sync.Mutex
	w      io.Writer
	prefix []byte
	buf    []byte
}

func (pw *prefixWriter) Write(b []byte) (int, error) {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	pw.buf = append(pw.buf, b...)
	for {
		i := bytes.IndexByte(pw.buf, '\n')
		if i < 0 {
			break
		}
		line := append(append([]byte{}, pw.prefix...), pw.buf[:i+1]...)
		if _, err := pw.w.Write(line); err != nil {
			return len(b), err
		}
		pw.buf = pw.buf[i+1:]
	}
	return len(b), nil
}

// WaitHTTP polls url every 50ms until it answers 200, and returns an error when ctx ends
// first or when one of the watched processes exits meanwhile.
func WaitHTTP(ctx context.Context, url string, watch ...*Proc) error {
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		for _, p := range watch {
			select {
			case <-p.Done():
				return fmt.Errorf("%s exited while waiting for %s: %v", p.Name, url, p.Err())
			default:
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not answer 200: %w", url, errors.Join(ctx.Err(), err))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// WaitHTTPWithin is WaitHTTP bounded by limit.
func WaitHTTPWithin(ctx context.Context, limit time.Duration, url string, watch ...*Proc) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	return WaitHTTP(ctx, url, watch...)
}

// FirstExit returns a channel that receives the first of ps to exit.
func FirstExit(ps []*Proc) <-chan *Proc {
	ch := make(chan *Proc, len(ps))
	for _, p := range ps {
		go func() {
			<-p.Done()
			ch <- p
		}()
	}
	return ch
}

// StopAll stops ps, the last started first, each with grace, and reports to out what had
// to be killed or failed.
func StopAll(ps []*Proc, grace time.Duration, out io.Writer) {
	for i := len(ps) - 1; i >= 0; i-- {
		if err := ps[i].Stop(grace); err != nil {
			fmt.Fprintf(out, "%v\n", err)
		}
	}
}

// FreePorts are loopback ports that were free when asked for, each handed out once.
type FreePorts map[int]bool

// Next returns a loopback port that is free now and that f has not handed out before
// (the kernel may offer the same port twice).
func (f FreePorts) Next() (int, error) {
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		p := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		if !f[p] {
			f[p] = true
			return p, nil
		}
	}
}
