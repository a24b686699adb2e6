package httpx

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// RequireBearer lets a request through when it carries "Authorization: Bearer <token>"
// with one of tokens, compared in constant time: otherwise it answers 401 (no
// credentials) or 403 (a wrong token). who names the token in the answers ("an
// operator", "a service"). Listing two tokens lets one be rotated without downtime.
func RequireBearer(tokens []string, who string) gin.HandlerFunc {
	return func(c *gin.Context) {
		got, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
		if !ok || got == "" {
			_ = c.Error(fmt.Errorf("%w: this endpoint needs %s's bearer token", ErrUnauthorized, who))
			c.Abort()
			return
		}
		if !TokenIn(got, tokens) {
			_ = c.Error(fmt.Errorf("%w: the bearer token is not %s's", ErrForbidden, who))
			c.Abort()
			return
		}
		c.Next()
	}
}

// TokenIn reports whether token is one of tokens. Each comparison takes constant time,
// and every token is compared, so the answer's timing tells nothing about which one
// nearly matched.
func TokenIn(token string, tokens []string) bool {
	found := 0
	for _, t := range tokens {
		found |= subtle.ConstantTimeCompare([]byte(token), []byte(t))
	}
	return found == 1
}

// writesNeedToken requires one of tokens on every request that may change something
// (POST, PUT, PATCH, DELETE); reads pass as they are.
func writesNeedToken(tokens []string) gin.HandlerFunc {
	check := RequireBearer(tokens, "a service")
	return func(c *gin.Context) {
		switch c.Request.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			c.Next()
		default:
			check(c)
		}
	}
}

// BearerTransport sends "Authorization: Bearer <token>" with every request that has no
// Authorization of its own: how the worker, the API and the tools call the services.
func BearerTransport(base http.RoundTripper, token string) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return bearer{base: base, value: "Bearer " + token}
}

type bearer struct {
	base  http.RoundTripper
	value string
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Header.Get("Authorization") != "" {
		return b.base.RoundTrip(r)
	}
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", b.value)
	return b.base.RoundTrip(r)
}
