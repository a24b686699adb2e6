package httpx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ordersaga/ordersaga/internal/problem"
)

// RetryAfterSeconds is the Retry-After of a 503 or 429 answer.
const RetryAfterSeconds = 1

// MaxBodyBytes is the largest request body a JSON endpoint reads.
const MaxBodyBytes = 1 << 20

// Options are what a composition root adds to an engine.
type Options struct {
	// Middleware runs outermost, around everything else, so it sees the final answer:
	// telemetry's span and metrics per request.
	Middleware []gin.HandlerFunc
	// Metrics, when set, is served on GET /metrics.
	Metrics http.Handler
	// Ready, when set, answers GET /readyz: 200 when it returns nil, 503 with its error
	// otherwise (a service checks its database).
	Ready func(ctx context.Context) error
	// WriteTokens, when set, are the bearer tokens every POST, PUT, PATCH and DELETE must
	// carry (the services' SERVICE_TOKENS): 401 without one, 403 with another.
	WriteTokens []string
}

// NewEngine returns a Gin engine whose errors are answered from codes as problem+json:
// handlers report an error with c.Error(err) and return. It also answers unknown routes,
// wrong methods and panics with problems, logs every request but probes and scrapes, and
// serves GET /healthz (the process is up) and what opts add.
func NewEngine(log *slog.Logger, codes Codes, opts Options) *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.ContextWithFallback = true
	// No redirects to a "fixed" path: "/orders/" must not quietly become the list
	// "/orders" for a client that left an ID empty.
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.Use(opts.Middleware...)
	r.Use(logRequests(log), recoverPanics(log), renderErrors(log, codes))
	if len(opts.WriteTokens) > 0 {
		r.Use(writesNeedToken(opts.WriteTokens))
	}
	r.NoRoute(func(c *gin.Context) { _ = c.Error(fmt.Errorf("%w: %s", ErrRouteNotFound, c.Request.URL.Path)) })
	r.NoMethod(func(c *gin.Context) {
		_ = c.Error(fmt.Errorf("%w: %s %s", ErrMethodNotAllowed, c.Request.Method, c.Request.URL.Path))
	})
	r.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	if opts.Metrics != nil {
		r.GET("/metrics", gin.WrapH(opts.Metrics))
	}
	if opts.Ready != nil {
		r.GET("/readyz", readyz(opts.Ready))
	}
	return r
}

// ReadyTimeout bounds a readiness check.
const ReadyTimeout = 3 * time.Second

func readyz(check func(ctx context.Context) error) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), ReadyTimeout)
		defer cancel()
		if err := check(ctx); err != nil {
			c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "error": err.Error()})
			return
		}
		c.JSON(http.StatusOK, gin.H{"status": "ready"})
	}
}

// WriteProblem answers p as application/problem+json.
func WriteProblem(c *gin.Context, p problem.Problem) {
	p.Instance = c.Request.URL.Path
	body, err := json.Marshal(p)
	if err != nil { // a Problem always marshals; keep the answer well-formed regardless
		body = []byte(`{"type":"about:blank","title":"Internal server error","status":500,"code":"Internal"}`)
	}
	switch p.Status {
	case http.StatusUnauthorized:
		c.Header("WWW-Authenticate", `Bearer realm="ordersaga"`)
	case http.StatusServiceUnavailable, http.StatusTooManyRequests:
		// Worth trying again soon: the outage is expected to be short.
		c.Header("Retry-After", strconv.Itoa(RetryAfterSeconds))
	}
	c.Data(p.Status, problem.ContentType, body)
}

func renderErrors(log *slog.Logger, codes Codes) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Next()
		if len(c.Errors) == 0 || c.Writer.Written() {
			return
		}
		err := c.Errors.Last().Err
		p, known := codes.Problem(err)
		if !known {
			log.ErrorContext(c.Request.Context(), "unhandled error", "method", c.Request.Method,
				"path", c.Request.URL.Path, "err", err)
		}
		WriteProblem(c, p)
	}
}

func recoverPanics(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.ErrorContext(c.Request.Context(), "panic in handler", "path", c.Request.URL.Path, "panic", v)
				if !c.Writer.Written() {
					WriteProblem(c, internalProblem())
				}
				c.Abort()
			}
		}()
		c.Next()
	}
}

func logRequests(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		path := c.Request.URL.Path
		if path == "/healthz" || path == "/readyz" || path == "/metrics" {
			return
		}
		level := slog.LevelInfo
		if c.Writer.Status() >= 500 {
			level = slog.LevelWarn
		}
		log.Log(c.Request.Context(), level, "http request", "method", c.Request.Method, "path", path,
			"status", c.Writer.Status(), "duration", time.Since(start).Round(time.Microsecond))
	}
}

// BindJSON decodes the request body into v, strictly: the body must be application/json,
// at most MaxBodyBytes long, one JSON value with no unknown fields. It returns
// ErrUnsupportedMediaType, ErrTooLarge or ErrMalformed (wrapped with the reason).
func BindJSON(c *gin.Context, v any) error {
	return bind(c, v, false)
}

// BindOptionalJSON is BindJSON for endpoints whose body may be omitted: an empty body
// leaves v unchanged.
func BindOptionalJSON(c *gin.Context, v any) error {
	return bind(c, v, true)
}

func bind(c *gin.Context, v any, optional bool) error {
	req := c.Request
	if optional && req.ContentLength == 0 {
		return nil
	}
	if err := RequireJSON(req); err != nil {
		return err
	}
	body := http.MaxBytesReader(c.Writer, req.Body, MaxBodyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err, optional)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return decodeError(err, optional)
		}
		return fmt.Errorf("%w: the body must hold a single JSON value", ErrMalformed)
	}
	return nil
}

// RequireJSON returns ErrUnsupportedMediaType unless req's body is application/json (or
// another +json type).
func RequireJSON(req *http.Request) error {
	mt, _, err := mime.ParseMediaType(req.Header.Get("Content-Type"))
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return fmt.Errorf("%w: the body must be application/json", ErrUnsupportedMediaType)
	}
	return nil
}

func decodeError(err error, optional bool) error {
	var (
		tooLarge  *http.MaxBytesError
		syntax    *json.SyntaxError
		typeError *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &tooLarge):
		return fmt.Errorf("%w: the limit is %d bytes", ErrTooLarge, MaxBodyBytes)
	case errors.Is(err, io.EOF):
		if optional {
			return nil
		}
		return fmt.Errorf("%w: the body is empty", ErrMalformed)
	case errors.As(err, &syntax):
		return fmt.Errorf("%w: invalid JSON at byte %d", ErrMalformed, syntax.Offset)
	case errors.As(err, &typeError):
		return fmt.Errorf("%w: field %q must be %s", ErrMalformed, typeError.Field, typeError.Type)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: the JSON ends too early", ErrMalformed)
	default:
		// json's unknown-field error has no type; its message names the field.
		return fmt.Errorf("%w: %s", ErrMalformed, strings.TrimPrefix(err.Error(), "json: "))
	}
}

// StatusFor is the status of an idempotent write's answer: 201 when this call created
// the resource, 200 when it returned what an earlier call made.
func StatusFor(created bool) int {
	if created {
		return http.StatusCreated
	}
	return http.StatusOK
}

// Respond answers v with status, or err, when it is not nil, as a problem: the last line
// of a thin handler.
func Respond(c *gin.Context, status int, v any, err error) {
	if err != nil {
		_ = c.Error(err)
		return
	}
	c.JSON(status, v)
}
