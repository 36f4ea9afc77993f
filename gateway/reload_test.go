package gateway

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// routeTo is a VirtualService sending every request for any host to one backend host.
func routeTo(host string) string {
	return fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: all, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [edge, extra]
  http:
  - route: [{destination: {host: %s}}]
`, host)
}

// extraGateway adds a server on port 81, so that a reload starts (or stops) a listener.
const extraGateway = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: extra, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 81, name: http-extra, protocol: HTTP}
    hosts: ["*"]
`

// TestReloadUnderLoad is the gateway's central promise: while clients keep sending requests,
// reloads that rewire routes and add or remove listeners fail none of them, and each request
// sent after Apply returns sees the new routes.
func TestReloadUnderLoad(t *testing.T) {
	t.Parallel()
	a, b := backend(t, "a"), backend(t, "b")
	entries := []string{staticEntry("a", "a.internal", port(t, a)), staticEntry("b", "b.internal", port(t, b))}
	config := func(target string, extra bool) []string {
		docs := append([]string{edgeGateway, routeTo(target)}, entries...)
		if extra {
			docs = append(docs, extraGateway)
		}
		return docs
	}
	g := startGateway(t, snapshot(t, 1, config("a.internal", false)...), 81)
	addr := g.addr(t, 80)

	var (
		stop     = make(chan struct{})
		wg       sync.WaitGroup
		total    atomic.Int64
		failures atomic.Int64
		firstErr atomic.Value
	)
	for range 8 {
		client := newClient(t)
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				res, err := get(t, client, addr, "shop.example.com", "/")
				total.Add(1)
				if err == nil && res.code == 200 && (res.body == "a" || res.body == "b") {
					continue
				}
				failures.Add(1)
				firstErr.CompareAndSwap(nil, fmt.Sprintf("%d %q %v", res.code, res.body, err))
			}
		})
	}

	check := newClient(t)
	for i := range 30 {
		target, body := "b.internal", "b"
		if i%2 == 1 {
			target, body = "a.internal", "a"
		}
		extra := i%3 == 0
		if err := g.Apply(snapshot(t, uint64(i+2), config(target, extra)...)); err != nil {
			t.Fatalf("reload %d: %v", i, err)
		}
		// No polling: Apply has swapped the Table when it returns.
		if res, err := get(t, check, addr, "shop.example.com", "/"); err != nil || res.body != body {
			t.Fatalf("reload %d: got %q (%v), want %q", i, res.body, err, body)
		}
		_, hasExtra := g.ListenAddrs()[ListenerKey{Port: 81}]
		if hasExtra != extra {
			t.Fatalf("reload %d: listener for port 81 present = %v, want %v", i, hasExtra, extra)
		}
		if extra {
			if res, err := get(t, check, g.addr(t, 81), "shop.example.com", "/"); err != nil || res.body != body {
				t.Fatalf("reload %d: new listener answered %q (%v), want %q", i, res.body, err, body)
			}
		}
	}
	close(stop)
	wg.Wait()
	if n := failures.Load(); n != 0 {
		t.Fatalf("%d of %d requests failed during reloads; first: %v", n, total.Load(), firstErr.Load())
	}
	t.Logf("%d requests, none failed, across 30 reloads", total.Load())
	if total.Load() < 30 {
		t.Fatalf("only %d requests were sent during the reloads", total.Load())
	}
}

func TestRemovedListenerStopsAccepting(t *testing.T) {
	t.Parallel()
	a := backend(t, "a")
	entry := staticEntry("a", "a.internal", port(t, a))
	g := startGateway(t, snapshot(t, 1, edgeGateway, extraGateway, entry, routeTo("a.internal")), 81)
	extraAddr := g.addr(t, 81)
	if err := g.Apply(snapshot(t, 2, edgeGateway, entry, routeTo("a.internal"))); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the removed listener to refuse connections", func() bool {
		c, err := net.DialTimeout("tcp", extraAddr, time.Second)
		if err == nil {
			_ = c.Close()
		}
		return err != nil
	})
	if res, err := get(t, newClient(t), g.addr(t, 80), "x", "/"); err != nil || res.body != "a" {
		t.Errorf("kept listener answered %q (%v), want a", res.body, err)
	}
}

func TestApplyKeepsPreviousConfigOnListenFailure(t *testing.T) {
	t.Parallel()
	a, b := backend(t, "a"), backend(t, "b")
	busy := mustListen(t)
	t.Cleanup(func() { _ = busy.Close() })
	_, busyPort, _ := net.SplitHostPort(busy.Addr().String())
	p, err := strconv.ParseUint(busyPort, 10, 16)
	if err != nil {
		t.Fatal(err)
	}

	g := newTestGateway(t, map[uint32]uint32{80: 0, 81: uint32(p)})
	entries := []string{staticEntry("a", "a.internal", port(t, a)), staticEntry("b", "b.internal", port(t, b))}
	if err := g.Apply(snapshot(t, 1, append([]string{edgeGateway, routeTo("a.internal")}, entries...)...)); err != nil {
		t.Fatal(err)
	}
	err = g.Apply(snapshot(t, 2, append([]string{edgeGateway, extraGateway, routeTo("b.internal")}, entries...)...))
	if err == nil || !strings.Contains(err.Error(), "port 81") {
		t.Fatalf("Apply with a port in use = %v, want a listen error for port 81", err)
	}
	if !g.Ready() {
		t.Error("gateway not ready after a failed reload")
	}
	if res, err := get(t, newClient(t), g.addr(t, 80), "x", "/"); err != nil || res.body != "a" {
		t.Errorf("after a failed reload: %q (%v), want the previous route to a", res.body, err)
	}
	if g.Table().Version != 1 {
		t.Errorf("Table version = %d, want 1", g.Table().Version)
	}
}
