// Package natsx connects a process to NATS, and runs the embedded NATS server (with
// JetStream) that stands in for a real one on a laptop, as SQLite stands in for
// PostgreSQL.
package natsx

import (
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Embedded is a NATS server with JetStream running inside this process.
type Embedded struct {
	srv *server.Server
}

// StartEmbedded starts a NATS server with JetStream on host:port, keeping its streams in
// storeDir, and waits until it takes connections.
func StartEmbedded(host string, port int, storeDir string, log *slog.Logger) (*Embedded, error) {
	srv, err := server.NewServer(&server.Options{
		ServerName: "ordersaga-embedded",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   storeDir,
		NoSigs:     true,
		NoLog:      true,
	})
	if err != nil {
		return nil, fmt.Errorf("embedded NATS: %w", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("embedded NATS on %s:%d did not start within 10s (is the port taken?)", host, port)
	}
	log.Info("embedded NATS with JetStream", "url", srv.ClientURL(), "storeDir", storeDir)
	return &Embedded{srv: srv}, nil
}

// URL is the address clients connect to.
func (e *Embedded) URL() string { return e.srv.ClientURL() }

// Shutdown stops the server and waits until it has.
func (e *Embedded) Shutdown() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
}

// Connect connects to the NATS server at url, in the background when it is not there
// yet: the connection retries for ever, so a process starts and works without NATS and
// its events wait. Publications fail at once while disconnected (nothing is buffered):
// the outbox relay keeps the events and retries.
func Connect(url, name string, log *slog.Logger) (*nats.Conn, error) {
	nc, err := nats.Connect(url,
		nats.Name(name),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.ReconnectBufSize(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("NATS disconnected", "url", url, "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("NATS reconnected", "url", c.ConnectedUrlRedacted()) }),
	)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", url, err)
	}
	return nc, nil
}

// Redact returns a NATS URL with its password masked, for logs.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable NATS URL)"
	}
	return u.Redacted()
}
