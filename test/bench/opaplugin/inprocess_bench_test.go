package main

import (
	"context"
	"testing"
)

// BenchmarkInProcess measures opa.sh's comparison without gRPC: one op is one check, the six
// requests of the mix in turn, so ns/op and allocs/op are per decision and the three compare
// directly. native and builtin are what the gateway pays in-process (the engine's request is
// built before, as the gateway builds it from its HTTP request); plugin is the plugin-style
// server's whole per-request work from the CheckRequest (protojson input, store transaction,
// evaluation, the response), as opa-envoy-plugin does it behind its gRPC layer.
//
//	GATEHOUSE_BENCH_OPA_DIR=<opa.sh's scratch dir> go test -run '^$' -bench InProcess ./test/bench/opaplugin
func BenchmarkInProcess(b *testing.B) {
	ip := loadInProcess(b)
	ip.agree(b) // warms every decider's caches (verified tokens) as the gRPC runs' warm-up does
	ctx := context.Background()
	n := len(ip.checks)

	b.Run("native", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			ip.checkNative(ctx, ip.nativeReqs[i%n])
		}
	})
	b.Run("builtin", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			ip.checkBuiltin(ctx, ip.builtinReqs[i%n])
		}
	})
	b.Run("plugin", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := ip.plugin.Check(ctx, ip.checks[i%n]); err != nil {
				b.Fatal(err)
			}
		}
	})
}
