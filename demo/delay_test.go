package demo

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestDelayArguments(t *testing.T) {
	t.Parallel()
	base := "http://" + startBackend(t, Options{Name: "v1"})
	c := newClient(t, false)

	tests := []struct {
		arg  string
		code int
	}{
		{"0", 200},
		{"0.001", 200},
		{"-1", 400},
		{"NaN", 400},
		{"soon", 400},
		{"", 400},
	}
	for _, tt := range tests {
		t.Run(tt.arg, func(t *testing.T) {
			t.Parallel()
			res := do(t, c, "POST", base+"/delay/"+tt.arg+"?q=1", nil, "payload")
			if res.code != tt.code {
				t.Fatalf("status = %d, want %d; body %v", res.code, tt.code, res.body)
			}
			if tt.code != 200 {
				return
			}
			if res.body["data"] != "payload" || res.body["method"] != "POST" || res.body["path"] != "/delay/"+tt.arg {
				t.Errorf("echo = %v, want the request echoed", res.body)
			}
		})
	}
}

// TestDelayHonoursCancellation asks for the longest delay and cancels the request: the handler
// must return without answering, well before the delay would have ended.
func TestDelayHonoursCancellation(t *testing.T) {
	t.Parallel()
	h := Handler(Options{Name: "v1", Logger: testLogger(t)})

	t.Run("already cancelled", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, "GET", "/delay/10", nil))
		if rec.Body.Len() != 0 {
			t.Errorf("wrote %q after cancellation, want nothing", rec.Body.String())
		}
	})

	t.Run("client goes away", func(t *testing.T) {
		t.Parallel()
		entered := make(chan struct{})
		returned := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(entered)
			h.ServeHTTP(w, r)
			close(returned)
		}))
		t.Cleanup(srv.Close)

		ctx, cancel := context.WithCancel(t.Context())
		req, err := http.NewRequestWithContext(ctx, "GET", srv.URL+"/delay/10", nil)
		if err != nil {
			t.Fatal(err)
		}
		errc := make(chan error, 1)
		go func() {
			res, err := srv.Client().Do(req)
			if err == nil {
				res.Body.Close()
			}
			errc <- err
		}()
		<-entered
		cancel()
		if err := <-errc; err == nil {
			t.Error("request succeeded, want it cancelled")
		}
		// A deadline, not a sleep: half the delay is ample for a handler that watches its
		// context and too short for one that waits the delay out.
		select {
		case <-returned:
		case <-time.After(maxDelay / 2):
			t.Fatal("handler still waiting after the client went away")
		}
	})
}
