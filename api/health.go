package api

import (
	"context"
	_ "embed"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
)

// Readiness is the body of GET /readyz.
type Readiness struct {
	// Status is "ready" or "unavailable".
	Status string `json:"status"`
	// Checks maps each dependency to "ok" or its error.
	Checks map[string]string `json:"checks"`
}

// readyz answers 200 when every dependency (Temporal and the services) answers, 503
// otherwise, with each check's result.
func (s *server) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 3*time.Second)
	defer cancel()
	deps := s.deps.Readiness

	out := Readiness{Status: "ready", Checks: make(map[string]string, len(deps))}
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	for _, d := range deps {
		wg.Go(func() {
			result := "ok"
			if err := d.Check(ctx); err != nil {
				result = err.Error()
			}
			mu.Lock()
			defer mu.Unlock()
			out.Checks[d.Name] = result
			if result != "ok" {
				out.Status = "unavailable"
			}
		})
	}
	wg.Wait()
	status := http.StatusOK
	if out.Status != "ready" {
		status = http.StatusServiceUnavailable
	}
	c.JSON(status, out)
}

//go:embed openapi.yaml
var openAPI []byte

func serveOpenAPI(c *gin.Context) {
	c.Data(http.StatusOK, "application/yaml", openAPI)
}
