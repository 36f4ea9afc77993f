package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// outcome is what one request of a signed-in user's load got.
type outcome int

const (
	served      outcome = iota // 200 from the backend, as the signed-in user
	sessionLost                // the gateway no longer knew the session: a redirect to sign in, or 401
	failed                     // a transport error or any other answer (502/504 from the load balancer, ...)
)

// sample is one request of the load.
type sample struct {
	start, end time.Time
	outcome    outcome
	idToken    string // the id token the backend received, when served
	detail     string // why, when not served
}

// load is a signed-in browser's requests sent by a few workers back to back until stop, as a
// user's page with several tabs open would; every answer is recorded.
type load struct {
	mu       sync.Mutex
	samples  []sample
	stop     chan struct{}
	stopOnce sync.Once
	done     sync.WaitGroup
}

// startLoad sends GET target from workers goroutines through c; wantUser is the user-id header
// the backend must see. Stop it with (*load).finish; a test that fails first stops it on cleanup.
func startLoad(t *testing.T, c *http.Client, target, wantUser string, workers int) *load {
	l := &load{stop: make(chan struct{})}
	t.Cleanup(func() { l.finish() })
	for range workers {
		l.done.Go(func() {
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				s := loadRequest(c, target, wantUser)
				l.mu.Lock()
				l.samples = append(l.samples, s)
				l.mu.Unlock()
			}
		})
	}
	return l
}

// loadRequest sends one GET as a browser navigating and classifies the answer.
func loadRequest(c *http.Client, target, wantUser string) (s sample) {
	s.start = time.Now()
	defer func() { s.end = time.Now() }()
	req, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		s.outcome, s.detail = failed, err.Error()
		return s
	}
	req.Header.Set("Accept", "text/html")
	resp, err := c.Do(req)
	if err != nil {
		s.outcome, s.detail = failed, err.Error()
		return s
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusFound || resp.StatusCode == http.StatusUnauthorized:
		s.outcome, s.detail = sessionLost, fmt.Sprintf("%d to %q", resp.StatusCode, resp.Header.Get("Location"))
	case resp.StatusCode != http.StatusOK:
		s.outcome, s.detail = failed, fmt.Sprintf("%d %.200s", resp.StatusCode, body)
	default:
		var echoed struct {
			Headers map[string]any `json:"headers"`
		}
		if err := json.Unmarshal(body, &echoed); err != nil {
			s.outcome, s.detail = failed, fmt.Sprintf("backend echo %.200q: %v", body, err)
			break
		}
		if user := fmt.Sprint(echoed.Headers["Kubeflow-Userid"]); user != wantUser {
			s.outcome, s.detail = sessionLost, fmt.Sprintf("served as %q", user)
			break
		}
		s.idToken = strings.TrimPrefix(fmt.Sprint(echoed.Headers["Authorization"]), "Bearer ")
	}
	return s
}

// snapshot returns the samples so far.
func (l *load) snapshot() []sample {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]sample(nil), l.samples...)
}

// finish stops the workers and returns every sample.
func (l *load) finish() []sample {
	l.stopOnce.Do(func() { close(l.stop) })
	l.done.Wait()
	return l.snapshot()
}

// waitUntil polls cond over the samples until it holds, or fails the test after timeout.
func (l *load) waitUntil(t *testing.T, what string, timeout time.Duration, cond func([]sample) bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond(l.snapshot()) {
		if time.Now().After(deadline) {
			t.Fatalf("load: %s did not happen within %s (%s)", what, timeout, summarize(l.snapshot(), time.Time{}))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// servedAfter counts the requests started after from that were served.
func servedAfter(samples []sample, from time.Time) int {
	n := 0
	for _, s := range samples {
		if s.outcome == served && !s.start.Before(from) {
			n++
		}
	}
	return n
}

// summarize is the load's figures since from, for the log and failure messages.
func summarize(samples []sample, from time.Time) string {
	var n [3]int
	var firstBad string
	for _, s := range samples {
		if s.end.Before(from) {
			continue
		}
		n[s.outcome]++
		if s.outcome != served && firstBad == "" {
			firstBad = s.detail
		}
	}
	out := fmt.Sprintf("%d served, %d sessions lost, %d failed", n[served], n[sessionLost], n[failed])
	if firstBad != "" {
		out += "; first: " + firstBad
	}
	return out
}
