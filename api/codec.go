package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/ordersaga/ordersaga/internal/httpx"
)

// CodecConfig configures the codec server: POST /codec/decode and /codec/encode, the
// remote codec the Web UI and `temporal ... --codec-endpoint <api>/codec` call to show
// (and send) the sealed payloads of orders' workflows.
type CodecConfig struct {
	// Codec opens and seals payloads; nil serves no codec endpoints (404).
	Codec converter.PayloadCodec
	// AllowOrigins are the browser origins (the Web UI's, "http://localhost:8233") that
	// may call the codec from a page; others get no CORS headers.
	AllowOrigins []string
	// Open lets calls in without an operator token. The Web UI cannot send one (it
	// sends its own sign-in's access token, if any): for a laptop's DEV_MODE only.
	Open bool
}

// errCodecBody is a codec request whose body is not a Payloads document.
var errCodecBody = errors.New("not a Payloads document")

// codecHeaders are the request headers the Web UI and the CLI send to a codec server.
const codecHeaders = "Authorization, Content-Type, X-Namespace"

// mountCodec adds the codec server's routes to r when a codec is configured.
func (s *server) mountCodec(r *gin.Engine) {
	cc := s.cfg.Codec
	if cc.Codec == nil {
		return
	}
	g := r.Group("/codec", cors(cc.AllowOrigins))
	for _, path := range []string{"/encode", "/decode"} {
		g.OPTIONS(path, func(c *gin.Context) { c.Status(http.StatusNoContent) })
	}
	if !cc.Open {
		g.Use(operatorOnly(s.cfg.OperatorTokens))
	}
	g.POST("/encode", codecEndpoint(cc.Codec.Encode))
	g.POST("/decode", codecEndpoint(cc.Codec.Decode))
}

// codecEndpoint answers a Payloads document with the payloads run through fn.
func codecEndpoint(fn func([]*commonpb.Payload) ([]*commonpb.Payload, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := httpx.RequireJSON(c.Request); err != nil {
			_ = c.Error(err)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, 4*httpx.MaxBodyBytes))
		if tooBig := (*http.MaxBytesError)(nil); errors.As(err, &tooBig) {
			_ = c.Error(fmt.Errorf("%w: the limit is %d bytes", httpx.ErrTooLarge, tooBig.Limit))
			return
		} else if err != nil {
			_ = c.Error(fmt.Errorf("%w: %w", httpx.ErrMalformed, err))
			return
		}
		var in commonpb.Payloads
		if err := protojson.Unmarshal(body, &in); err != nil {
			_ = c.Error(fmt.Errorf("%w: %w: %v", httpx.ErrMalformed, errCodecBody, err))
			return
		}
		out, err := fn(in.GetPayloads())
		if err != nil {
			_ = c.Error(err)
			return
		}
		doc, err := protojson.Marshal(&commonpb.Payloads{Payloads: out})
		if err != nil {
			_ = c.Error(err)
			return
		}
		c.Data(http.StatusOK, "application/json", doc)
	}
}

// cors answers browsers calling from one of origins (a page of the Web UI): it names the
// origin, allows credentials and the codec's headers, and caches the preflight for ten
// minutes. Other origins get no CORS headers, so browsers refuse them the answer.
func cors(origins []string) gin.HandlerFunc {
	return func(c *gin.Context) {
		origin := c.GetHeader("Origin")
		if origin != "" && slices.Contains(origins, strings.TrimSuffix(origin, "/")) {
			h := c.Writer.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
			h.Set("Access-Control-Allow-Headers", codecHeaders)
			h.Set("Access-Control-Max-Age", "600")
		}
		c.Writer.Header().Add("Vary", "Origin")
		c.Next()
	}
}
