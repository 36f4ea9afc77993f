package demo

import (
	"encoding/json"
	"testing"

	"github.com/gorilla/websocket"
)

func dialWS(t *testing.T, addr string) *websocket.Conn {
	t.Helper()
	c, res, err := websocket.DefaultDialer.DialContext(t.Context(), "ws://"+addr+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if got := res.Header.Get("X-Backend-Name"); got != "v1" {
		t.Errorf("upgrade x-backend-name = %q, want v1", got)
	}
	return c
}

func TestWebSocketEcho(t *testing.T) {
	t.Parallel()
	addr := startBackend(t, Options{Name: "v1"})
	c := dialWS(t, addr)

	typ, msg, err := c.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	var hello map[string]any
	if err := json.Unmarshal(msg, &hello); err != nil || typ != websocket.TextMessage {
		t.Fatalf("hello = %d %q (%v), want a JSON text message", typ, msg, err)
	}
	for k, v := range map[string]string{"backend": "v1", "type": "hello", "path": "/ws", "host": addr, "protocol": "HTTP/1.1"} {
		if hello[k] != v {
			t.Errorf("hello %s = %v, want %q", k, hello[k], v)
		}
	}

	tests := []struct {
		name string
		typ  int
		data []byte
	}{
		{"text", websocket.TextMessage, []byte("hello, backend")},
		{"binary", websocket.BinaryMessage, []byte{0, 1, 2, 0xff}},
		{"empty", websocket.TextMessage, []byte{}},
		{"large", websocket.BinaryMessage, make([]byte, 256<<10)},
	}
	// Sequential: one connection echoes in order.
	for _, tt := range tests {
		if err := c.WriteMessage(tt.typ, tt.data); err != nil {
			t.Fatalf("%s: write: %v", tt.name, err)
		}
		typ, got, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("%s: read: %v", tt.name, err)
		}
		if typ != tt.typ || string(got) != string(tt.data) {
			t.Errorf("%s: echo = type %d, %d bytes; want type %d, %d bytes", tt.name, typ, len(got), tt.typ, len(tt.data))
		}
	}
}
