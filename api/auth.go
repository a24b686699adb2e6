package api

import (
	"fmt"

	"github.com/gin-gonic/gin"

	"github.com/ordersaga/ordersaga/internal/httpx"
)

// operatorOnly lets a request through when it carries "Authorization: Bearer <token>" with
// one of tokens (compared in constant time): 401 without credentials, 403 with a wrong
// token, and 403 for everyone when no token is configured.
func operatorOnly(tokens []string) gin.HandlerFunc {
	if len(tokens) == 0 {
		return func(c *gin.Context) {
			_ = c.Error(fmt.Errorf("%w: operator endpoints are disabled (set OPERATOR_TOKENS)", httpx.ErrForbidden))
			c.Abort()
		}
	}
	return httpx.RequireBearer(tokens, "an operator")
}
