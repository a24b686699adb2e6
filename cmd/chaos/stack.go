package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/ordersaga/ordersaga/internal/codec"
	"github.com/ordersaga/ordersaga/internal/config"
	"github.com/ordersaga/ordersaga/internal/database"
	"github.com/ordersaga/ordersaga/internal/devserver"
	"github.com/ordersaga/ordersaga/internal/proc"
	"github.com/ordersaga/ordersaga/internal/temporalx"
)

// stack is the run's ordersaga: its PostgreSQL, a Temporal dev server, the services, two
// workers and the API, each a process it can kill and start again.
type stack struct {
	bin, dir string
	pg       *postgres
	env      []string
	ports    map[string]int
	apiURL   string
	token    string // the operator's
	svcToken string // the services' (SERVICE_TOKENS)
	tc       client.Client

	mu       sync.Mutex
	temporal *proc.Proc
	services *proc.Proc
	workers  [2]*proc.Proc
	api      *proc.Proc
}

// startStack starts everything, waiting until each part answers.
func startStack(ctx context.Context, bin, pgBin, dir string, log *slog.Logger) (*stack, error) {
	s := &stack{bin: bin, dir: dir, ports: map[string]int{}, token: "chaos-operator", svcToken: "chaos-service"}
	ports := proc.FreePorts{}
	for _, name := range []string{"postgres", "temporal", "api", "worker-0", "worker-1", "nats", config.Order, config.Inventory, config.Payment, config.Shipping} {
		p, err := ports.Next()
		if err != nil {
			return nil, err
		}
		s.ports[name] = p
	}
	log.Info("starting PostgreSQL", "port", s.ports["postgres"])
	pg, err := newPostgres(ctx, pgBin, filepath.Join(dir, "pg"), s.ports["postgres"])
	if err != nil {
		return nil, err
	}
	if err := pg.Start(ctx); err != nil {
		return nil, err
	}
	s.pg = pg
	if _, err := database.CreatePostgres(ctx, pg.URL("postgres"), "ordersaga"); err != nil {
		return s, err
	}

	temporalAddr := "127.0.0.1:" + strconv.Itoa(s.ports["temporal"])
	s.env = []string{
		"TEMPORAL_ADDRESS=" + temporalAddr,
		"DATABASE_URL=" + pg.URL("ordersaga"),
		"OPERATOR_TOKENS=" + s.token,
		"SERVICE_TOKENS=" + s.svcToken,
		"PAYLOAD_KEYS=" + codec.NewKey("chaos"),
		"FAULTS_ENABLED=true", "SEED_DEMO_DATA=true",
		"API_PORT=" + strconv.Itoa(s.ports["api"]),
		"LOG_LEVEL=warn",
		// The services process runs the embedded NATS its events go to, its store here.
		"NATS_PORT=" + strconv.Itoa(s.ports["nats"]), "DATA_DIR=" + dir,
	}
	for _, name := range config.ServiceNames {
		s.env = append(s.env, config.EnvName(name, "PORT")+"="+strconv.Itoa(s.ports[name]))
	}
	s.apiURL = "http://127.0.0.1:" + strconv.Itoa(s.ports["api"])

	log.Info("starting the Temporal dev server", "address", temporalAddr)
	if err := s.startTemporal(); err != nil {
		return s, err
	}
	if s.tc, err = temporalx.Dial(ctx, config.LocalTemporal(temporalAddr), log, time.Minute); err != nil {
		return s, err
	}
	if s.services, err = s.start("services"); err != nil {
		return s, err
	}
	for _, name := range config.ServiceNames {
		if err := s.wait(ctx, fmt.Sprintf("http://127.0.0.1:%d/healthz", s.ports[name]), s.services); err != nil {
			return s, fmt.Errorf("%s service: %w", name, err)
		}
	}
	for i := range s.workers {
		if err := s.startWorker(i); err != nil {
			return s, err
		}
	}
	if s.api, err = s.start("api"); err != nil {
		return s, err
	}
	return s, s.wait(ctx, s.apiURL+"/readyz", s.api)
}

// start runs a process of bin with the stack's environment, its output in a log file.
func (s *stack) start(name string, args ...string) (*proc.Proc, error) {
	f, err := os.OpenFile(filepath.Join(s.dir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	path, env := filepath.Join(s.bin, name), s.env
	if name == "worker-0" || name == "worker-1" {
		path = filepath.Join(s.bin, "worker")
		env = append(slices.Clip(env), "WORKER_PORT="+strconv.Itoa(s.ports[name]))
	}
	p, err := proc.Start(name, path, args, env, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	go func() { <-p.Done(); f.Close() }()
	return p, nil
}

func (s *stack) wait(ctx context.Context, url string, p *proc.Proc) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return proc.WaitHTTP(ctx, url, p)
}

// startTemporal starts the dev server on its database file (again, after a kill).
func (s *stack) startTemporal() error {
	p, err := s.start("temporal", devserver.Args(devserver.Options{
		Port: s.ports["temporal"], DBFile: filepath.Join(s.dir, "temporal.db"),
	})...)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.temporal = p
	s.mu.Unlock()
	return nil
}

// killTemporal kills the dev server with SIGKILL and starts it again on the same file.
func (s *stack) killTemporal(ctx context.Context) error {
	s.mu.Lock()
	p := s.temporal
	s.mu.Unlock()
	p.Kill()
	if err := s.startTemporal(); err != nil {
		return err
	}
	tc, err := temporalx.Dial(ctx, config.LocalTemporal("127.0.0.1:"+strconv.Itoa(s.ports["temporal"])), slog.New(slog.DiscardHandler), time.Minute)
	if err != nil {
		return err
	}
	tc.Close()
	return nil
}

func (s *stack) startWorker(i int) error {
	p, err := s.start(fmt.Sprintf("worker-%d", i))
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.workers[i] = p
	s.mu.Unlock()
	return nil
}

// killWorker kills worker i with SIGKILL: no draining, no goodbye.
func (s *stack) killWorker(i int) {
	s.mu.Lock()
	p := s.workers[i]
	s.mu.Unlock()
	p.Kill()
}

// stop stops everything, the API first and PostgreSQL last.
func (s *stack) stop() {
	if s.tc != nil {
		s.tc.Close()
	}
	s.mu.Lock()
	ps := []*proc.Proc{s.api, s.workers[0], s.workers[1], s.services, s.temporal}
	s.mu.Unlock()
	for _, p := range ps {
		if p != nil {
			_ = p.Stop(20 * time.Second)
		}
	}
	if s.pg != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = s.pg.Stop(ctx)
	}
}
