package httpx

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/ordersaga/ordersaga/internal/problem"
)

// NewHTTPClient returns an *http.Client tuned for calls between local services: short
// dial timeout, a generous idle pool and no overall timeout (callers bound each call
// with their context).
func NewHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 3 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 64
	t.IdleConnTimeout = 90 * time.Second
	return &http.Client{Transport: t}
}

// NewServiceHTTPClient is NewHTTPClient sending token as the bearer token of every
// request (the services' SERVICE_TOKENS); an empty token sends none.
func NewServiceHTTPClient(token string) *http.Client {
	hc := NewHTTPClient()
	if token != "" {
		hc.Transport = BearerTransport(hc.Transport, token)
	}
	return hc
}

// Client calls one service's JSON endpoints and turns error answers back into the
// service's sentinel errors.
type Client struct {
	base   string
	http   *http.Client
	codes  Codes
	header http.Header
}

// NewClient returns a Client for the service at baseURL (e.g. "http://127.0.0.1:8082")
// whose error answers are read with codes. A nil hc uses NewHTTPClient.
func NewClient(baseURL string, hc *http.Client, codes Codes) *Client {
	if hc == nil {
		hc = NewHTTPClient()
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), http: hc, codes: codes}
}

// WithHeader returns a copy of c that sends the header key: value with every request
// (an Authorization, say).
func (c *Client) WithHeader(key, value string) *Client {
	cc := *c
	cc.header = c.header.Clone()
	if cc.header == nil {
		cc.header = http.Header{}
	}
	cc.header.Set(key, value)
	return &cc
}

// BaseURL returns the service's base URL.
func (c *Client) BaseURL() string { return c.base }

// Do sends in (when not nil) as JSON to method path and decodes a 2xx answer into out
// (when not nil). An error answer comes back as a *ResponseError wrapping the sentinel of
// its code; a failure to reach the service or read its answer wraps ErrUnavailable.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("build %s %s: %w", method, path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json, "+problem.ContentType)
	for k, vs := range c.header {
		req.Header[k] = vs
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %s %s: %v", ErrUnavailable, method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return fmt.Errorf("%w: read %s %s: %v", ErrUnavailable, method, path, err)
	}
	if resp.StatusCode >= 300 {
		return c.codes.Err(decodeProblem(resp, data))
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%w: decode %s %s: %v", ErrUnavailable, method, path, err)
	}
	return nil
}

// decodeProblem reads a problem body, or makes one from the status when the body is not
// a problem (a proxy's error page, say).
func decodeProblem(resp *http.Response, data []byte) problem.Problem {
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	var p problem.Problem
	if (mt == problem.ContentType || mt == "application/json") && json.Unmarshal(data, &p) == nil && p.Status != 0 {
		return p
	}
	detail := strings.TrimSpace(string(data))
	if len(detail) > 200 {
		detail = detail[:200]
	}
	return problem.Problem{Status: resp.StatusCode, Title: http.StatusText(resp.StatusCode), Detail: detail}
}

// Healthy returns nil when the service answers GET /healthz with 2xx.
func (c *Client) Healthy(ctx context.Context) error {
	return c.Do(ctx, http.MethodGet, "/healthz", nil, nil)
}
