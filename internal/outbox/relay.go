package outbox

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"gorm.io/gorm"

	"github.com/ordersaga/ordersaga/internal/telemetry"
)

// StreamConfig is the stream the relays create when it is missing: every service's
// events, kept a week on disk, with a duplicate window long enough to cover a relay that
// published a batch and could not mark it for as long as an hour (a database outage).
// A stream that exists is left as it is, so an operator may run it with other limits or
// replicas.
var StreamConfig = jetstream.StreamConfig{
	Name:       Stream,
	Subjects:   []string{SubjectPrefix + ">"},
	Storage:    jetstream.FileStorage,
	MaxAge:     7 * 24 * time.Hour,
	Duplicates: time.Hour,
}

// EnsureStream creates the stream unless it exists.
func EnsureStream(ctx context.Context, js jetstream.JetStream) error {
	_, err := js.CreateStream(ctx, StreamConfig)
	if err != nil && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return fmt.Errorf("create stream %s: %w", Stream, err)
	}
	return nil
}

// RelayOptions tune a relay; zero values take the defaults.
type RelayOptions struct {
	// Batch is how many events are read and published at a time (256).
	Batch int
	// Poll is how long an idle relay waits before it looks again (100 ms); it is also the
	// shortest wait after an error, doubled up to MaxBackoff while errors last.
	Poll time.Duration
	// MaxBackoff bounds the wait between attempts while NATS or the database is away (5 s).
	MaxBackoff time.Duration
	// Retain is how long published events stay in the table (24 h), for operators.
	Retain time.Duration
}

func (o RelayOptions) withDefaults() RelayOptions {
	if o.Batch <= 0 {
		o.Batch = 256
	}
	if o.Poll <= 0 {
		o.Poll = 100 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * time.Second
	}
	if o.Retain <= 0 {
		o.Retain = 24 * time.Hour
	}
	return o
}

// Relay publishes one service's outbox to JetStream, oldest event first, one at a time,
// each acknowledged before the next is sent, so that a failure leaves no later event of
// an order published before an earlier one.
//
// With PostgreSQL, only the replica holding the service's relay lock (a session advisory
// lock on a connection of its own) publishes; the others wait to take over when its
// connection goes. With SQLite the database belongs to one process, whose relay publishes.
type Relay struct {
	db      *gorm.DB
	js      jetstream.JetStream
	service string
	log     *slog.Logger
	opts    RelayOptions
	metrics relayMetrics
}

// NewRelay returns the relay of service's outbox in db, publishing with js and reporting
// its metrics to reg.
func NewRelay(db *gorm.DB, js jetstream.JetStream, service string, log *slog.Logger, reg prometheus.Registerer, opts RelayOptions) (*Relay, error) {
	r := &Relay{db: db, js: js, service: service, log: log.With("relay", service), opts: opts.withDefaults()}
	m, err := newRelayMetrics(reg, service, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, err := Backlog(ctx, db)
		if err != nil {
			return -1
		}
		return float64(n)
	})
	if err != nil {
		return nil, err
	}
	r.metrics = m
	return r, nil
}

// Run relays until ctx ends. It never gives up: while NATS or the database is away it
// retries with backoff, and the events wait in the table.
func (r *Relay) Run(ctx context.Context) {
	var (
		lock     *leaderLock
		wait     time.Duration
		failures int
		fresh    bool // leading since this round
		pruned   time.Time
	)
	defer func() { lock.release() }()
	for {
		if wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
		if ctx.Err() != nil {
			return
		}
		if lock == nil {
			var err error
			if lock, err = r.lead(ctx); err != nil || lock == nil {
				if err != nil {
					r.log.Warn("relay lock", "err", err)
				}
				wait = 10 * r.opts.Poll
				continue
			}
			r.metrics.leader.Set(1)
			r.log.Info("relaying events")
			fresh = true
		}
		// The stream is made sure of when this replica starts to lead, and after a failure.
		n, err := r.relayOnce(ctx, failures > 0 || fresh)
		fresh = false
		if err == nil {
			err = lock.check(ctx)
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			r.metrics.errors.Inc()
			if failures++; failures == 1 || failures%20 == 0 {
				r.log.Warn("relaying events failed; retrying", "err", err, "attempts", failures)
			}
			if errors.Is(err, errLockLost) {
				_ = lock.release()
				lock = nil
				r.metrics.leader.Set(0)
			}
			wait = min(r.opts.Poll<<min(failures, 10), r.opts.MaxBackoff)
			continue
		}
		if failures > 0 {
			r.log.Info("relaying events again", "after", failures)
			failures = 0
		}
		wait = 0
		if n < r.opts.Batch {
			wait = r.opts.Poll
			if time.Since(pruned) > time.Minute {
				pruned = time.Now()
				r.prune(ctx)
			}
		}
	}
}

// relayOnce publishes the oldest pending events, at most a batch, and marks those
// JetStream acknowledged. After a failure it first makes sure the stream exists.
func (r *Relay) relayOnce(ctx context.Context, recovering bool) (int, error) {
	if recovering {
		if err := EnsureStream(ctx, r.js); err != nil {
			return 0, err
		}
	}
	var rows []row
	err := r.db.WithContext(ctx).Where("published_at IS NULL").Order("seq").Limit(r.opts.Batch).Find(&rows).Error
	if err != nil {
		return 0, fmt.Errorf("read the outbox: %w", err)
	}
	var published []int64
	var pubErr error
	for _, rw := range rows {
		if pubErr = r.publish(ctx, rw.event()); pubErr != nil {
			break
		}
		published = append(published, rw.Seq)
	}
	if len(published) > 0 {
		// Marked in one statement after the batch: a crash before it publishes the batch
		// again, and JetStream drops the copies by their IDs.
		err := r.db.WithContext(ctx).Model(&row{}).Where("seq IN ?", published).Update("published_at", time.Now().UTC()).Error
		if err != nil {
			return len(published), fmt.Errorf("mark %d events published: %w", len(published), err)
		}
	}
	return len(published), pubErr
}

func (r *Relay) publish(ctx context.Context, ev Event) error {
	data, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	msg := nats.NewMsg(ev.Subject())
	msg.Data = data
	msg.Header.Set(jetstream.MsgIDHeader, ev.ID)
	msg.Header.Set(HeaderOrderID, ev.OrderID)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := r.js.PublishMsg(ctx, msg, jetstream.WithExpectStream(Stream)); err != nil {
		return fmt.Errorf("publish %s %s of order %s: %w", ev.Type, ev.ID, ev.OrderID, err)
	}
	r.metrics.published.Inc()
	r.metrics.lag.Observe(time.Since(ev.OccurredAt).Seconds())
	return nil
}

// prune deletes the events published longer ago than Retain.
func (r *Relay) prune(ctx context.Context) {
	res := r.db.WithContext(ctx).Where("published_at IS NOT NULL AND published_at < ?", time.Now().UTC().Add(-r.opts.Retain)).Delete(&row{})
	if res.Error != nil {
		r.log.Warn("prune the outbox", "err", res.Error)
	} else if res.RowsAffected > 0 {
		r.log.Debug("pruned the outbox", "events", res.RowsAffected)
	}
}

// errLockLost says the relay's lock connection went, and with it the lock.
var errLockLost = errors.New("the relay lock's connection was lost")

// leaderLock is a held relay lock: on PostgreSQL a connection holding the session
// advisory lock; on SQLite nothing (conn is nil).
type leaderLock struct {
	conn *sql.Conn
}

// lead takes the service's relay lock, or returns nil when another replica holds it.
func (r *Relay) lead(ctx context.Context) (*leaderLock, error) {
	if r.db.Dialector.Name() != "postgres" {
		return &leaderLock{}, nil
	}
	sqlDB, err := r.db.DB()
	if err != nil {
		return nil, err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return nil, err
	}
	var held bool
	if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock(hashtext($1))", "ordersaga-outbox-"+r.service).Scan(&held); err != nil {
		_ = (&leaderLock{conn: conn}).release()
		return nil, err
	}
	if !held {
		return nil, conn.Close() // back to the pool: it holds nothing
	}
	return &leaderLock{conn: conn}, nil
}

// check returns errLockLost when the lock's connection no longer answers.
func (l *leaderLock) check(ctx context.Context) error {
	if l == nil || l.conn == nil {
		return nil
	}
	if err := l.conn.PingContext(ctx); err != nil {
		return fmt.Errorf("%w: %w", errLockLost, err)
	}
	return nil
}

// release gives the lock up by closing its connection for good, which ends the session
// and the lock with it (returned to the pool, the session would keep the lock).
func (l *leaderLock) release() error {
	if l == nil || l.conn == nil {
		return nil
	}
	_ = l.conn.Raw(func(any) error { return driver.ErrBadConn })
	return l.conn.Close()
}

// relayMetrics are a relay's metrics.
type relayMetrics struct {
	published prometheus.Counter
	errors    prometheus.Counter
	lag       prometheus.Histogram
	leader    prometheus.Gauge
}

func newRelayMetrics(reg prometheus.Registerer, service string, backlog func() float64) (relayMetrics, error) {
	labels := prometheus.Labels{"service": service}
	m := relayMetrics{
		published: prometheus.NewCounter(prometheus.CounterOpts{Name: "ordersaga_outbox_published_total",
			Help: "Events the relay published to JetStream (acknowledged).", ConstLabels: labels}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{Name: "ordersaga_outbox_relay_errors_total",
			Help: "Failed relay rounds (NATS or the database away); each is retried with backoff.", ConstLabels: labels}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ordersaga_outbox_publish_lag_seconds",
			Help:        "Time from an event's write to its acknowledged publication.",
			ConstLabels: labels, Buckets: telemetry.LatencyBuckets}),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ordersaga_outbox_relay_leader",
			Help: "1 when this replica is the one relaying the service's outbox.", ConstLabels: labels}),
	}
	backlogGauge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ordersaga_outbox_backlog",
		Help: "Events written and not yet published (-1 when the database cannot say).", ConstLabels: labels}, backlog)
	for _, c := range []prometheus.Collector{m.published, m.errors, m.lag, m.leader, backlogGauge} {
		if err := reg.Register(c); err != nil {
			return m, fmt.Errorf("register the relay's metrics: %w", err)
		}
	}
	return m, nil
}
