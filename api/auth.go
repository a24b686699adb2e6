package api

import (
	"crypto/subtle"
	"fmt"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/ordersaga/ordersaga/internal/httpx"
)

// operatorOnly lets a request through when it carries "Authorization: Bearer <token>" with
// one of tokens: 401 without credentials, 403 with a wrong token, and 403 for everyone
// when no token is configured.
func operatorOnly(tokens []string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if len(tokens) == 0 {
			_ = c.Error(fmt.Errorf("%w: operator endpoints are disabled (set OPERATOR_TOKENS)", httpx.ErrForbidden))
			c.Abort()
			return
		}
		got, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
		if !ok || got == "" {
			_ = c.Error(fmt.Errorf("%w: this endpoint needs an operator's bearer token", httpx.ErrUnauthorized))
			c.Abort()
			return
		}
		for _, t := range tokens {
			if subtle.ConstantTimeCompare([]byte(got), []byte(t)) == 1 {
				c.Next()
				return
			}
		}
		_ = c.Error(fmt.Errorf("%w: the bearer token is not an operator token", httpx.ErrForbidden))
		c.Abort()
	}
}
