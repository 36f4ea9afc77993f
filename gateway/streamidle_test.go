package gateway

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gorilla/websocket"
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

// TestStreamIdleTimeoutUpgraded: a WebSocket is an HTTP stream too, as in Envoy: its bytes keep
// it alive, and once neither side sends anything for the timeout the gateway closes it.
func TestStreamIdleTimeoutUpgraded(t *testing.T) {
	t.Parallel()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			kind, msg, err := c.ReadMessage()
			if err != nil || c.WriteMessage(kind, msg) != nil {
				return
			}
		}
	}))
	t.Cleanup(up.Close)
	g := newTestGateway(t, map[uint32]uint32{80: 0}, func(o *Options) { o.StreamIdleTimeout = 100 * time.Millisecond })
	if err := g.Apply(snapshot(t, 1, edgeGateway, staticEntry("ws", "ws.internal", port(t, up)), routeAll("all", "ws.internal"))); err != nil {
		t.Fatal(err)
	}
	addr := g.addr(t, 80)
	d := websocket.Dialer{NetDialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}
	conn, res, err := d.Dial("ws://ws.example.com/echo", nil)
	if err != nil {
		t.Fatalf("dial through the gateway: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	if res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade answered %d", res.StatusCode)
	}
	if err := conn.WriteMessage(websocket.TextMessage, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := conn.ReadMessage(); err != nil || string(msg) != "hello" {
		t.Fatalf("echo = %q (%v), want hello", msg, err)
	}
	// Quiet from here: the gateway must close the tunnel. The deadline only keeps a broken test
	// from hanging.
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, _, err = conn.ReadMessage()
	var ne net.Error
	if err == nil || errors.As(err, &ne) && ne.Timeout() {
		t.Errorf("idle WebSocket still open after 10s (%v), want it closed by the stream idle timeout", err)
	}
}
