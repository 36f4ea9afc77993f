package demo

import (
	"fmt"
	"log/slog"
	"time"
)

// DefaultName is the backend name used when Options.Name is empty.
const DefaultName = "demo"

const (
	defaultShutdownGrace = 10 * time.Second
	maxNameLen           = 128
)

// Options configure a demo backend.
type Options struct {
	// Name is echoed in every response; printable ASCII, at most 128 bytes. Empty means DefaultName.
	Name string
	// Logger receives lifecycle and error events, never one line per request. Nil discards.
	Logger *slog.Logger
	// ShutdownGrace bounds how long Serve waits for in-flight requests, gRPC streams and WebSockets
	// after its context is done before closing them. Zero means 10s.
	ShutdownGrace time.Duration
}

// Validate reports whether the options can be served. The name goes verbatim into HTTP headers and
// gRPC metadata, whose values must be printable ASCII.
func (o Options) Validate() error {
	name := o.withDefaults().Name
	if len(name) > maxNameLen {
		return fmt.Errorf("demo backend: name: longer than %d bytes", maxNameLen)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 0x20 || c > 0x7e {
			return fmt.Errorf("demo backend: name %q: byte %d is not printable ASCII", name, i)
		}
	}
	if o.ShutdownGrace < 0 {
		return fmt.Errorf("demo backend: shutdown grace %s: negative", o.ShutdownGrace)
	}
	return nil
}

func (o Options) withDefaults() Options {
	if o.Name == "" {
		o.Name = DefaultName
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ShutdownGrace == 0 {
		o.ShutdownGrace = defaultShutdownGrace
	}
	return o
}
