package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// benchVirtualServices and benchServiceEntries size the config of
// BenchmarkCompileAndApply10kVirtualServices: a large multi-tenant edge, where every host has
// its own VirtualService and many of them share a backend.
const (
	benchVirtualServices = 10_000
	benchServiceEntries  = 100
)

// BenchmarkCompileAndApply10kVirtualServices measures what a reload costs at scale: Compile
// alone (the pure translation), then Apply (Compile plus the listener and table swap on a live
// Gateway). Parsing and validating the YAML happen once, outside the timed loops, because the
// policy package owns that cost and the gateway only ever sees a ready Snapshot.
func BenchmarkCompileAndApply10kVirtualServices(b *testing.B) {
	base := benchSnapshot(b)
	// A config that compiled to nothing would time nothing: every VirtualService must have
	// become a virtual host with both routes.
	t, _ := Compile(base, CompileOptions{PortMap: map[uint32]uint32{80: 0}})
	if n := benchRoutes(t); n != 2*benchVirtualServices {
		b.Fatalf("compiled %d routes, want %d", n, 2*benchVirtualServices)
	}
	b.Run("Compile", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ps := Compile(base, CompileOptions{PortMap: map[uint32]uint32{80: 0}}); ps.Err() != nil {
				b.Fatalf("Compile: %v", ps.Err())
			}
		}
	})
	b.Run("Apply", func(b *testing.B) {
		g := New(Options{
			Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
			Registerer:  prometheus.NewRegistry(),
			BindAddress: "127.0.0.1",
			Compile:     CompileOptions{PortMap: map[uint32]uint32{80: 0}},
		})
		b.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = g.Shutdown(ctx)
		})
		// The first Apply binds the listener; the timed ones are reloads onto a live port, which
		// is what a config change in production is.
		if err := g.Apply(base); err != nil {
			b.Fatalf("first Apply: %v", err)
		}
		version := base.Version
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			version++
			snap := policy.NewSnapshot(version, base.Resources(), base.Mesh, base.Settings, nil, nil)
			b.StartTimer()
			if err := g.Apply(snap); err != nil {
				b.Fatalf("Apply: %v", err)
			}
		}
	})
}

// benchRoutes counts the routes of t's HTTP virtual hosts.
func benchRoutes(t *Table) int {
	n := 0
	for _, l := range t.Listeners {
		for _, vh := range l.VirtualHosts {
			n += len(vh.Routes)
		}
	}
	return n
}

// benchSnapshot parses one Gateway for *.bench.local on port 80, benchServiceEntries static
// ServiceEntries and benchVirtualServices VirtualServices, each with a header route and a
// prefix route.
func benchSnapshot(b *testing.B) *policy.Snapshot {
	b.Helper()
	var y strings.Builder
	y.WriteString(`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: bench, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*.bench.local"]
`)
	for i := range benchServiceEntries {
		fmt.Fprintf(&y, `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: svc-%d, namespace: istio-system}
spec:
  hosts: [svc-%d.bench.internal]
  ports: [{number: 80, name: http, protocol: HTTP, targetPort: %d}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1}]
`, i, i, 20000+i)
	}
	for i := range benchVirtualServices {
		svc := i % benchServiceEntries
		fmt.Fprintf(&y, `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs-%d, namespace: istio-system}
spec:
  hosts: [vs-%d.bench.local]
  gateways: [bench]
  http:
  - match: [{headers: {end-user: {exact: jason}}}]
    route: [{destination: {host: svc-%d.bench.internal}}]
  - match: [{uri: {prefix: /api/}}]
    route: [{destination: {host: svc-%d.bench.internal}}]
`, i, i, (svc+1)%benchServiceEntries, svc)
	}
	snap, ps := policy.ParseSnapshot(map[string][]byte{"bench.yaml": []byte(y.String())})
	if snap == nil || ps.Err() != nil {
		b.Fatalf("bench config does not load:\n%v", ps)
	}
	return policy.NewSnapshot(1, snap.Resources(), snap.Mesh, snap.Settings, nil, nil)
}
