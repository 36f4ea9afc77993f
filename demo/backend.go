package demo

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
)

// backend is the combined HTTP, gRPC and WebSocket handler. Everything that depends only on
// Options is computed once here so the request path only copies it.
type backend struct {
	name string
	log  *slog.Logger

	nameHeader []string // shared by every response's header map; net/http never mutates it
	prefix     []byte   // `{"backend":"<name>"`, the start of every JSON body
	index      []byte
	healthz    []byte

	grpc   *grpc.Server
	health *health.Server
	ws     *wsHub
}

// Handler returns the combined HTTP/1.1, h2c, gRPC and WebSocket handler. gRPC needs HTTP/2, so
// serve it with http.Protocols allowing unencrypted HTTP/2 (as Serve does) or over TLS.
// It panics if opts do not pass Validate, as regexp.MustCompile does for a bad pattern: options
// are written by the programmer, not read from a request.
func Handler(opts Options) http.Handler {
	if err := opts.Validate(); err != nil {
		panic(err)
	}
	return newBackend(opts.withDefaults())
}

func newBackend(opts Options) *backend {
	b := &backend{
		name:       opts.Name,
		log:        opts.Logger.With("backend", opts.Name),
		nameHeader: []string{opts.Name},
	}
	b.prefix = append([]byte(`{"backend":`), appendString(nil, opts.Name)...)
	b.index = mustMarshal(map[string]any{
		"backend": opts.Name,
		"endpoints": []string{
			"/headers", "/anything", "/status/{code}", "/delay/{seconds}", "/ip", "/healthz", "/ws",
		},
		"grpc": grpcServiceNames,
	})
	b.healthz = mustMarshal(map[string]string{"backend": opts.Name, "status": "ok"})
	b.grpc, b.health = newGRPCServer(opts.Name)
	b.ws = newWSHub(b)
	return b
}

// mustMarshal only sees maps of strings built above, which always encode.
func mustMarshal(v any) []byte {
	out, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return append(out, '\n')
}

func (b *backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor == 2 && strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
		// gRPC sets x-backend-name as header metadata itself; setting it here too would send it twice.
		b.grpc.ServeHTTP(w, r)
		return
	}
	w.Header()["X-Backend-Name"] = b.nameHeader
	b.route(w, r)
}
