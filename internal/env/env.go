// Package env reads a process's settings from environment variables. Only composition
// roots (the main packages) use it: they pass os.Getenv (tests pass a map's lookup), read
// every setting into one config struct, and check Err once.
package env

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Reader reads typed values, falling back to defaults for unset variables and collecting
// parse errors.
type Reader struct {
	getenv func(string) string
	errs   []error
}

// New returns a Reader over getenv (usually os.Getenv).
func New(getenv func(string) string) *Reader { return &Reader{getenv: getenv} }

// Map adapts a map to the getenv signature, for tests.
func Map(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// Getenv returns the variable as it is (for readers of their own, like the SDK's).
func (r *Reader) Getenv(key string) string { return r.getenv(key) }

// Fail records an error found by another reader of the environment.
func (r *Reader) Fail(err error) { r.errs = append(r.errs, err) }

// Err returns every parse error met so far, joined, or nil.
func (r *Reader) Err() error { return errors.Join(r.errs...) }

func (r *Reader) lookup(key string) (string, bool) {
	v := strings.TrimSpace(r.getenv(key))
	return v, v != ""
}

func (r *Reader) fail(key, v, want string) {
	r.errs = append(r.errs, fmt.Errorf("%s=%q: want %s", key, v, want))
}

// String returns the variable, or def when unset.
func (r *Reader) String(key, def string) string {
	if v, ok := r.lookup(key); ok {
		return v
	}
	return def
}

// Int returns the variable as an int, or def when unset.
func (r *Reader) Int(key string, def int) int {
	v, ok := r.lookup(key)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		r.fail(key, v, "an integer")
		return def
	}
	return n
}

// Int64 returns the variable as an int64, or def when unset.
func (r *Reader) Int64(key string, def int64) int64 {
	v, ok := r.lookup(key)
	if !ok {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		r.fail(key, v, "an integer")
		return def
	}
	return n
}

// Float returns the variable as a float64, or def when unset.
func (r *Reader) Float(key string, def float64) float64 {
	v, ok := r.lookup(key)
	if !ok {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		r.fail(key, v, "a number")
		return def
	}
	return f
}

// Bool returns the variable as a bool (1/0, true/false), or def when unset.
func (r *Reader) Bool(key string, def bool) bool {
	v, ok := r.lookup(key)
	if !ok {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		r.fail(key, v, "true or false")
		return def
	}
	return b
}

// Duration returns the variable as a duration ("1500ms", "24h"), or def when unset.
func (r *Reader) Duration(key string, def time.Duration) time.Duration {
	v, ok := r.lookup(key)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		r.fail(key, v, "a non-negative duration such as 500ms or 24h")
		return def
	}
	return d
}

// List returns the variable split on commas, blanks dropped, or def when unset.
func (r *Reader) List(key string, def []string) []string {
	v, ok := r.lookup(key)
	if !ok {
		return def
	}
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
