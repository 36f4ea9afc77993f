package gateway

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestRetriableResponse(t *testing.T) {
	t.Parallel()
	policy := func(on string, codes ...int) *RetryPolicy { return mustRetryPolicy(1, on, codes) }
	res := func(code int, kv ...string) *http.Response {
		h := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return &http.Response{StatusCode: code, Header: h}
	}
	tests := []struct {
		name string
		p    *RetryPolicy
		res  *http.Response
		want bool
	}{
		{"default 503", defaultRetryPolicy, res(503), true},
		{"default 502", defaultRetryPolicy, res(502), false},
		{"default grpc unavailable", defaultRetryPolicy, res(200, "grpc-status", "14"), true},
		{"default grpc cancelled", defaultRetryPolicy, res(200, "grpc-status", "1"), true},
		{"default grpc internal", defaultRetryPolicy, res(200, "grpc-status", "13"), false},
		{"overloaded is never retried", defaultRetryPolicy, res(503, "x-envoy-overloaded", "true"), false},
		{"5xx", policy("5xx"), res(500), true},
		{"gateway-error 504", policy("gateway-error"), res(504), true},
		{"gateway-error 500", policy("gateway-error"), res(500), false},
		{"retriable-4xx", policy("retriable-4xx"), res(409), true},
		{"retriable-4xx 404", policy("retriable-4xx"), res(404), false},
		{"envoy-ratelimited", policy("envoy-ratelimited"), res(429, "x-envoy-ratelimited", "true"), true},
		{"ratelimited without header", policy("envoy-ratelimited"), res(429), false},
		{"deadline-exceeded", policy("deadline-exceeded"), res(200, "grpc-status", "4"), true},
		{"resource-exhausted", policy("resource-exhausted"), res(200, "grpc-status", "8"), true},
		{"internal", policy("internal"), res(200, "grpc-status", "13"), true},
		{"retriable-status-codes", policy("retriable-status-codes", 418), res(418), true},
	}
	for _, tt := range tests {
		if got := tt.p.retriableResponse(tt.res); got != tt.want {
			t.Errorf("%s: retriableResponse = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestRetriableError(t *testing.T) {
	t.Parallel()
	dial := &net.OpError{Op: "dial", Err: errors.New("refused")}
	refused := errors.New("http2: stream error: stream ID 3; REFUSED_STREAM")
	reset := errors.New("connection reset by peer")
	tests := []struct {
		on     string
		err    error
		perTry bool
		want   bool
	}{
		{"connect-failure", dial, false, true},
		{"connect-failure", reset, false, false},
		{"refused-stream", refused, false, true},
		{"reset", reset, false, true},
		{"5xx", reset, true, true},
		{"gateway-error", dial, false, true},
		{"connect-failure", dial, true, false},
		{"http3-post-connect-failure", reset, false, false},
	}
	for _, tt := range tests {
		p := mustRetryPolicy(1, tt.on, nil)
		if got := p.retriableError(tt.err, tt.perTry); got != tt.want {
			t.Errorf("%s on %v (per-try %v) = %v, want %v", tt.on, tt.err, tt.perTry, got, tt.want)
		}
	}
}

func TestBackoffBounds(t *testing.T) {
	t.Parallel()
	p := &RetryPolicy{}
	for n := 1; n < 20; n++ {
		for range 50 {
			if d := p.backoff(n); d < 0 || d >= 250*time.Millisecond {
				t.Fatalf("backoff(%d) = %v, want in [0, 250ms)", n, d)
			}
		}
	}
	if d := p.backoff(1); d >= defaultRetryBackoff {
		t.Errorf("first backoff %v, want below the 25ms base", d)
	}
}

func TestReplayBody(t *testing.T) {
	t.Parallel()
	b := newReplayBody(strings.NewReader("hello world"))
	first, _ := b.next()
	buf := make([]byte, 5)
	if _, err := io.ReadFull(first, buf); err != nil || string(buf) != "hello" {
		t.Fatalf("first try read %q, %v", buf, err)
	}
	second, ok := b.next()
	if !ok {
		t.Fatal("a 5-byte body is not replayable")
	}
	if _, err := first.Read(buf); !errors.Is(err, errTryOver) {
		t.Errorf("abandoned try read err = %v, want errTryOver", err)
	}
	all, err := io.ReadAll(second)
	if err != nil || string(all) != "hello world" {
		t.Errorf("second try read %q, %v; want the whole body", all, err)
	}

	big := newReplayBody(strings.NewReader(strings.Repeat("x", retryBufferLimit+10)))
	r, _ := big.next()
	n, err := io.Copy(io.Discard, r)
	if err != nil || n != retryBufferLimit+10 {
		t.Fatalf("first try of a large body read %d, %v", n, err)
	}
	if _, ok := big.next(); ok || big.replayable() {
		t.Error("a body over the buffer limit is replayable")
	}
}
