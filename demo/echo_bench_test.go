package demo

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
)

// discardWriter keeps the benchmark measuring the handler, not a recorder's buffering.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

func BenchmarkHeaders(b *testing.B) {
	h := Handler(Options{Name: "v1", Logger: slog.New(slog.DiscardHandler)})
	r := httptest.NewRequest("GET", "http://bench.example/headers", nil)
	r.Header.Set("User-Agent", "wrk")
	r.Header.Set("Accept", "*/*")
	r.Header.Set("X-Request-Id", "7f1c0a4e-8d2b-4d3a-9c57-0b6b9f0e1a2c")
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, r)
	}
}
