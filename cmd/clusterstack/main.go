// Command clusterstack is `make run-cluster`: ordersaga's production topology on one
// machine, as processes. It starts
//   - a Temporal server (bin/temporal-server) with PostgreSQL persistence and SQL
//     visibility, configured by deploy/temporal/config.yaml, its schemas set up and
//     upgraded by the schema tool (bin/temporal-sql-tool) at every start, and the
//     namespace with its retention and search attributes provisioned;
//   - the Temporal Web UI server (bin/temporal-ui-server, deploy/temporal/ui), on
//     127.0.0.1 only, decoding sealed payloads through the first API's /codec;
//   - the four services, one process and one PostgreSQL database each;
//   - two workers and two APIs;
//
// waits until each answers, and prints where everything is. A worker or an API that dies
// is started again a second later, as an orchestrator would; when Temporal, the UI or a
// service exits, or on Ctrl-C, it stops them all, the APIs first and Temporal last.
//
// Settings: DATABASE_URL (postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable:
// the PostgreSQL server, and a database on it to connect to; the stack creates its own
// databases there, named DB_PREFIX (ordersaga_; lower case letters, digits and
// underscores) + temporal, temporal_visibility, order, inventory, payment, shipping),
// BIN_DIR (bin), DATA_DIR (.data/cluster: the dev payload key), TEMPORAL_PORT (7233),
// TEMPORAL_UI_PORT (8233), TEMPORAL_METRICS_PORT (8239), TEMPORAL_MEMBERSHIP_PORT (6933;
// deploy/temporal/config.yaml derives the other ports), TEMPORAL_NAMESPACE (ordersaga),
// TEMPORAL_RETENTION (72h), API_PORTS (8080,8090), WORKER_PORTS (8085,8095), the
// services' *_PORT, OPERATOR_TOKENS, PAYLOAD_KEYS and SERVICE_TOKENS as for `make run`.
// The services' events go to NATS_URL; without it clusterstack runs an embedded NATS
// server with JetStream itself, on NATS_PORT (4223), keeping its streams in
// DATA_DIR/nats, and the services connect to it.
package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ordersaga/ordersaga/internal/codec"
	"github.com/ordersaga/ordersaga/internal/config"
	"github.com/ordersaga/ordersaga/internal/database"
	"github.com/ordersaga/ordersaga/internal/env"
	"github.com/ordersaga/ordersaga/internal/logging"
	"github.com/ordersaga/ordersaga/internal/natsx"
	"github.com/ordersaga/ordersaga/internal/proc"
	"github.com/ordersaga/ordersaga/internal/temporalx"
)

// Config is clusterstack's configuration (the settings in the package comment).
type Config struct {
	// DatabaseURL names the PostgreSQL server, the user, and a database to connect to
	// while creating the stack's own, whose names start with DBPrefix.
	DatabaseURL *url.URL
	DBPrefix    string
	BinDir      string
	// DataDir keeps the dev payload key, so that the orders stay readable across starts.
	DataDir             string
	TemporalPort        int // the frontend's gRPC port
	UIPort              int
	TemporalMetricsPort int
	// MembershipPort is the frontend's membership port; deploy/temporal/config.yaml
	// derives the other services' ports from it and from TemporalPort.
	MembershipPort int
	Namespace      string
	Retention      time.Duration // of closed orders' histories in the namespace
	APIPorts       []int         // one API process per port
	WorkerPorts    []int         // one worker process per port
	ServicePorts   map[string]int
	// OperatorTokens, ServiceTokens and PayloadKeys are passed on as for `make run`;
	// without ServiceTokens the parts run in DEV_MODE, without PayloadKeys a dev key is
	// kept in DataDir.
	OperatorTokens, ServiceTokens, PayloadKeys string
	// Events says where the services' events go.
	Events config.Events
}

func readConfig(getenv func(string) string) (Config, error) {
	r := env.New(getenv)
	cfg := Config{
		DBPrefix:            r.String("DB_PREFIX", "ordersaga_"),
		BinDir:              r.String("BIN_DIR", "bin"),
		DataDir:             r.String("DATA_DIR", filepath.Join(".data", "cluster")),
		TemporalPort:        r.Int("TEMPORAL_PORT", 7233),
		UIPort:              r.Int("TEMPORAL_UI_PORT", 8233),
		TemporalMetricsPort: r.Int("TEMPORAL_METRICS_PORT", 8239),
		MembershipPort:      r.Int("TEMPORAL_MEMBERSHIP_PORT", 6933),
		Namespace:           r.String("TEMPORAL_NAMESPACE", "ordersaga"),
		Retention:           r.Duration("TEMPORAL_RETENTION", 72*time.Hour),
		ServicePorts:        map[string]int{},
		OperatorTokens:      r.String("OPERATOR_TOKENS", ""),
		ServiceTokens:       r.String("SERVICE_TOKENS", ""),
		PayloadKeys:         r.String("PAYLOAD_KEYS", ""),
	}
	for _, name := range config.ServiceNames {
		cfg.ServicePorts[name] = config.Port(r, name)
	}
	cfg.Events = config.ReadEvents(r)
	cfg.APIPorts = ports(r, "API_PORTS", "8080,8090")
	cfg.WorkerPorts = ports(r, "WORKER_PORTS", "8085,8095")
	u, err := url.Parse(r.String("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"))
	if err != nil || u.Scheme != "postgres" && u.Scheme != "postgresql" {
		r.Fail(fmt.Errorf("DATABASE_URL: want a postgres:// URL"))
	}
	cfg.DatabaseURL = u
	return cfg, r.Err()
}

// ports reads a comma-separated list of at least one port.
func ports(r *env.Reader, name, def string) []int {
	var ps []int
	for _, s := range r.List(name, strings.Split(def, ",")) {
		p, err := strconv.Atoi(s)
		if err != nil || p <= 0 || p > 65535 {
			r.Fail(fmt.Errorf("%s: %q is not a port", name, s))
			continue
		}
		ps = append(ps, p)
	}
	if len(ps) == 0 {
		r.Fail(fmt.Errorf("%s: want at least one port", name))
	}
	return ps
}

// server returns where the configured PostgreSQL server is and whom to log in as.
func (c Config) server() (host, port, user, password string) {
	host, port = c.DatabaseURL.Hostname(), c.DatabaseURL.Port()
	if port == "" {
		port = "5432"
	}
	password, _ = c.DatabaseURL.User.Password()
	return host, port, c.DatabaseURL.User.Username(), password
}

// database returns the URL of database name on the configured server.
func (c Config) database(name string) string {
	u := *c.DatabaseURL
	u.Path = "/" + name
	return u.String()
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "clusterstack:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string, out io.Writer) error {
	cfg, err := readConfig(getenv)
	if err != nil {
		return err
	}
	log, err := logging.New(logging.Config{Level: "info"}, "clusterstack", out)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return err
	}
	if cfg.PayloadKeys == "" {
		if cfg.PayloadKeys, err = codec.KeepKey(filepath.Join(cfg.DataDir, "payload-keys"), "dev1"); err != nil {
			return err
		}
	}
	for _, bin := range []string{"temporal-server", "temporal-sql-tool", "temporal-ui-server"} {
		if _, err := os.Stat(filepath.Join(cfg.BinDir, bin)); err != nil {
			return fmt.Errorf("%s: %w (`make cluster-tools` builds it)", bin, err)
		}
	}

	if cfg.Events.Embedded() {
		nats, err := natsx.StartEmbedded("127.0.0.1", cfg.Events.EmbeddedPort, filepath.Join(cfg.DataDir, "nats"), log)
		if err != nil {
			return fmt.Errorf("%w (set NATS_URL to use another NATS server, or NATS_PORT)", err)
		}
		defer nats.Shutdown() // last: after every process has stopped (deferred below)
	}

	temporalDB, visibilityDB := cfg.DBPrefix+"temporal", cfg.DBPrefix+"temporal_visibility"
	log.Info("preparing the databases", "server", cfg.DatabaseURL.Host)
	dbs := []string{temporalDB, visibilityDB}
	for _, name := range config.ServiceNames {
		dbs = append(dbs, cfg.DBPrefix+name)
	}
	for _, name := range dbs {
		if _, err := database.CreatePostgres(ctx, cfg.DatabaseURL.String(), name); err != nil {
			return err
		}
	}
	if err := migrate(ctx, cfg, temporalDB, "postgresql/v12/temporal", out); err != nil {
		return err
	}
	if err := migrate(ctx, cfg, visibilityDB, "postgresql/v12/visibility", out); err != nil {
		return err
	}

	temporalAddr := "127.0.0.1:" + strconv.Itoa(cfg.TemporalPort)
	uiURL := "http://localhost:" + strconv.Itoa(cfg.UIPort)
	apiURL := func(i int) string { return "http://localhost:" + strconv.Itoa(cfg.APIPorts[i]) }
	host, port, user, password := cfg.server()

	// Every process started, for the stop; the supervisor below adds to it.
	var (
		mu      sync.Mutex
		started []*proc.Proc
		running []*proc.Proc // the first start of each part: the banner's, and whose exit stops all
	)
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		proc.StopAll(started, 20*time.Second, proc.PrefixWriter(out, "clusterstack | "))
		fmt.Fprintln(out, "clusterstack | all stopped")
	}()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // before the stop above: the supervisor starts nothing more
	launch := func(name, bin string, args, env []string) (*proc.Proc, error) {
		mu.Lock()
		defer mu.Unlock()
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		p, err := proc.Start(name, filepath.Join(cfg.BinDir, bin), args, env, proc.PrefixWriter(out, fmt.Sprintf("%-10s| ", name)))
		if err == nil {
			started = append(started, p)
		}
		return p, err
	}
	start := func(name, bin string, args, env []string) (*proc.Proc, error) {
		p, err := launch(name, bin, args, env)
		if err == nil {
			running = append(running, p)
		}
		return p, err
	}
	// supervise starts a worker or an API again whenever it dies, as an orchestrator
	// would: the others carry the orders meanwhile (a worker's running activities time
	// out and are retried elsewhere).
	var watched []*proc.Proc // the parts whose exit stops everything
	supervise := func(p *proc.Proc, bin string, env []string) {
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-p.Done():
				}
				log.Warn("a process exited; starting it again", "process", p.Name, "pid", p.Pid(), "error", p.Err())
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Second):
				}
				np, err := launch(p.Name, bin, nil, env)
				if err != nil {
					log.Error("could not start it again", "process", p.Name, "error", err)
					return
				}
				log.Info("started again", "process", np.Name, "pid", np.Pid())
				p = np
			}
		}()
	}

	log.Info("starting the Temporal server", "address", temporalAddr, "config", "deploy/temporal/config.yaml")
	srv, err := start("temporal", "temporal-server", []string{"--config-file", "deploy/temporal/config.yaml", "--allow-no-auth", "start"}, []string{
		"TEMPORAL_DB_HOST=" + host, "TEMPORAL_DB_PORT=" + port,
		"TEMPORAL_DB_USER=" + user, "TEMPORAL_DB_PASSWORD=" + password,
		"TEMPORAL_DB=" + temporalDB, "TEMPORAL_VISIBILITY_DB=" + visibilityDB,
		"TEMPORAL_GRPC_PORT=" + strconv.Itoa(cfg.TemporalPort),
		"TEMPORAL_MEMBERSHIP_PORT=" + strconv.Itoa(cfg.MembershipPort),
		"TEMPORAL_METRICS_ADDRESS=127.0.0.1:" + strconv.Itoa(cfg.TemporalMetricsPort),
	})
	if err != nil {
		return err
	}
	// Wait for the frontend, unless the server gives up first (a bad configuration, say).
	dctx, stopDial := context.WithCancel(ctx)
	go func() {
		select {
		case <-srv.Done():
			stopDial()
		case <-dctx.Done():
		}
	}()
	tc, err := temporalx.Dial(dctx, config.LocalTemporal(temporalAddr), log, 2*time.Minute)
	stopDial()
	if err != nil {
		select {
		case <-srv.Done():
			return fmt.Errorf("the Temporal server exited: %v (its log is above)", srv.Err())
		default:
			return err
		}
	}
	pctx, stopProvision := context.WithTimeout(ctx, time.Minute)
	err = temporalx.Provision(pctx, tc, cfg.Namespace, cfg.Retention)
	stopProvision()
	tc.Close()
	if err != nil {
		return err
	}

	if _, err := start("ui", "temporal-ui-server", []string{"--root", "deploy/temporal/ui", "--config", ".", "--env", "cluster", "start"}, []string{
		"TEMPORAL_ADDRESS=" + temporalAddr, "TEMPORAL_UI_PORT=" + strconv.Itoa(cfg.UIPort),
		"TEMPORAL_NAMESPACE=" + cfg.Namespace, "TEMPORAL_CODEC_ENDPOINT=" + apiURL(0) + "/codec",
	}); err != nil {
		return err
	}

	common := []string{
		"NATS_URL=" + cfg.Events.URL(),
		"TEMPORAL_ADDRESS=" + temporalAddr,
		"TEMPORAL_NAMESPACE=" + cfg.Namespace,
		"TEMPORAL_UI_URL=" + uiURL,
		"OPERATOR_TOKENS=" + cfg.OperatorTokens,
		"PAYLOAD_KEYS=" + cfg.PayloadKeys,
		"SERVICE_TOKENS=" + cfg.ServiceTokens,
	}
	common = append(common, config.LocalStackEnv(getenv, cfg.ServiceTokens)...)
	with := func(kv ...string) []string { return append(append([]string{}, common...), kv...) }

	for _, name := range config.ServiceNames {
		if _, err := start(name, "services", []string{name}, with(
			config.EnvName(name, "DATABASE_URL")+"="+cfg.database(cfg.DBPrefix+name))); err != nil {
			return err
		}
	}
	for _, name := range config.ServiceNames {
		if err := proc.WaitHTTPWithin(ctx, time.Minute, fmt.Sprintf("http://127.0.0.1:%d/healthz", cfg.ServicePorts[name]), running...); err != nil {
			return fmt.Errorf("%s service: %w", name, err)
		}
	}
	watched = append(watched, running...) // Temporal, the UI and the services
	var supervised []func()
	for i, p := range cfg.WorkerPorts {
		env := with("WORKER_PORT=" + strconv.Itoa(p))
		w, err := start(fmt.Sprintf("worker-%d", i+1), "worker", nil, env)
		if err != nil {
			return err
		}
		if err := proc.WaitHTTPWithin(ctx, time.Minute, fmt.Sprintf("http://127.0.0.1:%d/readyz", p), running...); err != nil {
			return fmt.Errorf("worker %d: %w", i+1, err)
		}
		supervised = append(supervised, func() { supervise(w, "worker", env) })
	}
	for i, p := range cfg.APIPorts {
		env := with("API_PORT=" + strconv.Itoa(p))
		a, err := start(fmt.Sprintf("api-%d", i+1), "api", nil, env)
		if err != nil {
			return err
		}
		if err := proc.WaitHTTPWithin(ctx, time.Minute, apiURL(i)+"/readyz", running...); err != nil {
			return fmt.Errorf("api %d: %w", i+1, err)
		}
		supervised = append(supervised, func() { supervise(a, "api", env) })
	}
	if err := proc.WaitHTTPWithin(ctx, time.Minute, uiURL, running...); err != nil {
		return fmt.Errorf("web UI: %w", err)
	}
	for _, s := range supervised {
		s()
	}
	printBanner(out, cfg, uiURL, temporalAddr, dbs, running)

	select {
	case <-ctx.Done():
		fmt.Fprintln(out, "\nstopping...")
		return nil
	case p := <-proc.FirstExit(watched):
		return fmt.Errorf("%s exited: %v", p.Name, p.Err())
	}
}

// migrate brings database to the newest version of the schema embedded in the schema
// tool as schemaName: the version table first (kept when it exists), then every versioned
// update the database lacks. Both steps do nothing on an up-to-date database. The tool's
// log is shown only when a step fails (without --quiet, which would make the tool exit 0
// on an error).
func migrate(ctx context.Context, cfg Config, database, schemaName string, out io.Writer) error {
	host, port, user, password := cfg.server()
	base := []string{"--plugin", "postgres12", "--endpoint", host, "--port", port,
		"--user", user, "--database", database}
	steps := [][]string{
		{"setup-schema", "-v", "0.0"},
		{"update-schema", "--schema-name", schemaName},
	}
	for _, step := range steps {
		var log bytes.Buffer
		p, err := proc.Start("sql-tool", filepath.Join(cfg.BinDir, "temporal-sql-tool"), append(append([]string{}, base...), step...),
			[]string{"SQL_PASSWORD=" + password}, &log)
		if err != nil {
			return err
		}
		select {
		case <-p.Done():
		case <-ctx.Done():
			p.Kill()
			return ctx.Err()
		}
		if err := p.Err(); err != nil {
			_, _ = log.WriteTo(proc.PrefixWriter(out, "sql-tool  | "))
			return fmt.Errorf("schema of %s: %s: %w", database, step[0], err)
		}
	}
	return nil
}

func printBanner(out io.Writer, cfg Config, uiURL, temporalAddr string, dbs []string, running []*proc.Proc) {
	var pids []string
	for _, p := range running {
		pids = append(pids, fmt.Sprintf("%s=%d", p.Name, p.Pid()))
	}
	var apis, workers []string
	for _, p := range cfg.APIPorts {
		apis = append(apis, "http://localhost:"+strconv.Itoa(p))
	}
	for _, p := range cfg.WorkerPorts {
		workers = append(workers, ":"+strconv.Itoa(p))
	}
	fmt.Fprintf(out, `
  ordersaga is running on a Temporal cluster
    APIs           %s
    Temporal UI    %s   (namespace %s)
    Temporal gRPC  %s   (bin/temporal --address %s --namespace %s workflow list)
    databases      %s on %s
    workers        %s   (/readyz, /metrics)
    events         %s   stream ORDERSAGA   (NATS_URL=%s bin/starter events --follow)
    processes      %s

  Ctrl-C stops everything.
`, strings.Join(apis, "  "), uiURL, cfg.Namespace, temporalAddr, temporalAddr, cfg.Namespace,
		strings.Join(dbs, " "), cfg.DatabaseURL.Host,
		strings.Join(workers, " "), cfg.Events.URL(), cfg.Events.URL(), strings.Join(pids, " "))
}
