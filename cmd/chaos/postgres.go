package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// postgres is the run's own PostgreSQL instance, made with the machine's initdb and
// pg_ctl, on its own port and data directory, so that it can be stopped the hard way.
type postgres struct {
	bin, dir string
	port     int
	// cred runs the binaries as the postgres user when the run is root's (initdb refuses
	// root).
	cred *syscall.Credential
}

// findPGBin returns the directory of initdb and pg_ctl: PG_BIN, or the newest
// /usr/lib/postgresql/*/bin.
func findPGBin(pgBin string) (string, error) {
	if pgBin != "" {
		return pgBin, nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(matches) == 0 {
		return "", fmt.Errorf("no PostgreSQL server binaries (initdb, pg_ctl): install Debian's postgresql package or set PG_BIN")
	}
	return filepath.Dir(matches[len(matches)-1]), nil
}

// newPostgres initialises a data directory in dir for a server on port.
func newPostgres(ctx context.Context, bin, dir string, port int) (*postgres, error) {
	pg := &postgres{bin: bin, dir: dir, port: port}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root, initdb needs the postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		pg.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
	}
	if err := pg.run(ctx, "initdb", "-D", dir, "-A", "trust", "-U", "postgres", "--no-sync"); err != nil {
		return nil, err
	}
	return pg, nil
}

func (pg *postgres) run(ctx context.Context, tool string, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(pg.bin, tool), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: pg.cred}
	cmd.Dir = pg.dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s %v: %w\n%s", tool, args, err, out)
	}
	return nil
}

// Start starts the server and waits until it accepts connections.
func (pg *postgres) Start(ctx context.Context) error {
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200", pg.port, pg.dir)
	return pg.run(ctx, "pg_ctl", "-D", pg.dir, "-o", opts, "-l", filepath.Join(pg.dir, "server.log"), "-w", "start")
}

// StopImmediately stops the server as a crash would: no checkpoint, connections cut.
func (pg *postgres) StopImmediately(ctx context.Context) error {
	return pg.run(ctx, "pg_ctl", "-D", pg.dir, "-m", "immediate", "-w", "stop")
}

// Stop stops the server cleanly (at the end of the run).
func (pg *postgres) Stop(ctx context.Context) error {
	return pg.run(ctx, "pg_ctl", "-D", pg.dir, "-m", "fast", "-w", "stop")
}

// URL is the server's URL for database name.
func (pg *postgres) URL(name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", pg.port, name)
}
