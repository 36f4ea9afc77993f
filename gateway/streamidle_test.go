package gateway

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestStreamIdleTimeout runs requests whose upstream goes quiet: before any response the client
// gets Envoy's 408 "stream timeout"; after the response started, the stream is reset.
func TestStreamIdleTimeout(t *testing.T) {
	t.Parallel()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stall" {
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte("partial"))
			http.NewResponseController(w).Flush()
		}
		<-r.Context().Done()
	}))
	t.Cleanup(up.Close)
	g := newTestGateway(t, map[uint32]uint32{80: 0}, func(o *Options) { o.StreamIdleTimeout = 100 * time.Millisecond })
	if err := g.Apply(snapshot(t, 1, edgeGateway, staticEntry("quiet", "quiet.internal", port(t, up)), routeAll("all", "quiet.internal"))); err != nil {
		t.Fatal(err)
	}
	addr := g.addr(t, 80)
	client := newClient(t)

	res, err := get(t, client, addr, "quiet.example.com", "/quiet")
	if err != nil || res.code != http.StatusRequestTimeout || res.body != bodyStreamTimeout {
		t.Errorf("quiet upstream = %d %q (%v), want 408 %q", res.code, res.body, err, bodyStreamTimeout)
	}
	if _, err := get(t, client, addr, "quiet.example.com", "/stall"); err == nil {
		t.Error("a response stalled after its headers was read to the end, want the stream reset")
	}
}

func TestStreamIdleDefaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want time.Duration
	}{
		{0, 5 * time.Minute},
		{time.Second, time.Second},
		{-1, -1},
	}
	for _, tt := range tests {
		if got := (Options{StreamIdleTimeout: tt.in}).withDefaults().StreamIdleTimeout; got != tt.want {
			t.Errorf("StreamIdleTimeout %v defaults to %v, want %v", tt.in, got, tt.want)
		}
	}
}
