package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// loader runs workers that each handshake, close and dial again, until the run's time is up.
// With a request, each connection also sends it and reads a 200 answer before it closes.
type loader struct {
	addr    string
	cfg     *tls.Config
	workers int
	timeout time.Duration
	request []byte
}

// result is what one run observed: the latency of every completed handshake, and the failures.
type result struct {
	latencies []time.Duration
	errors    int
	firstErr  error
	elapsed   time.Duration
}

func (r result) rate() float64 { return float64(len(r.latencies)) / r.elapsed.Seconds() }

func (l loader) run(ctx context.Context, d time.Duration) result {
	start := time.Now()
	end := start.Add(d)
	parts := make([]result, l.workers)
	var wg sync.WaitGroup
	for i := range parts {
		wg.Go(func() { parts[i] = l.work(ctx, end) })
	}
	wg.Wait()
	all := result{elapsed: time.Since(start)}
	for _, p := range parts {
		all.latencies = append(all.latencies, p.latencies...)
		all.errors += p.errors
		if all.firstErr == nil {
			all.firstErr = p.firstErr
		}
	}
	return all
}

// work handshakes until end. A handshake cut short by the end of the run is not a failure. The
// clock decides rather than a context's Err, which can lag its deadline on a loaded machine while
// every dial already fails on it.
func (l loader) work(ctx context.Context, end time.Time) result {
	var r result
	dialer := &tls.Dialer{NetDialer: &net.Dialer{}, Config: l.cfg}
	for start := time.Now(); start.Before(end); start = time.Now() {
		deadline := start.Add(l.timeout)
		if deadline.After(end) {
			deadline = end
		}
		hctx, cancel := context.WithDeadline(ctx, deadline)
		conn, err := dialer.DialContext(hctx, "tcp", l.addr)
		cancel()
		if err == nil {
			err = checkFull(conn.(*tls.Conn))
			if err == nil && l.request != nil {
				err = l.exchange(conn, deadline)
			}
			_ = conn.Close()
		}
		elapsed := time.Since(start)
		switch {
		case err == nil:
			r.latencies = append(r.latencies, elapsed)
		case !time.Now().Before(end):
		default:
			r.errors++
			if r.firstErr == nil {
				r.firstErr = err
			}
		}
	}
	return r
}

// exchange sends the request on conn and reads the whole answer, which must be a 200.
func (l loader) exchange(conn net.Conn, deadline time.Time) error {
	if err := conn.SetDeadline(deadline); err != nil {
		return err
	}
	if _, err := conn.Write(l.request); err != nil {
		return fmt.Errorf("sending the request: %w", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return fmt.Errorf("reading the answer: %w", err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return fmt.Errorf("reading the answer's body: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("answered %s, want 200", resp.Status)
	}
	return nil
}

// checkFull guards the premise of the measurement: a full TLS 1.3 handshake.
func checkFull(c *tls.Conn) error {
	cs := c.ConnectionState()
	if cs.Version != tls.VersionTLS13 {
		return errors.New("negotiated a version other than TLS 1.3")
	}
	if cs.DidResume {
		return errors.New("the session was resumed")
	}
	return nil
}
