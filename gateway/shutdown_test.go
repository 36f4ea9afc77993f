package gateway

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// slowBackend answers "slow" once release is closed, and reports each request on arrived.
func slowBackend(t *testing.T) (srv *httptest.Server, arrived <-chan struct{}, release chan struct{}) {
	t.Helper()
	arr := make(chan struct{}, 16)
	release = make(chan struct{})
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arr <- struct{}{}
		select {
		case <-release:
			_, _ = io.WriteString(w, "slow")
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	// Registered after srv.Close, so it runs first: Close waits for handlers.
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	return srv, arr, release
}

const slowRoute = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: slow, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [edge]
  http:
  - route: [{destination: {host: slow.internal}}]
`

func TestShutdownDrainsInFlight(t *testing.T) {
	t.Parallel()
	slow, arrived, release := slowBackend(t)
	g := startGateway(t, snapshot(t, 1, edgeGateway, staticEntry("slow", "slow.internal", port(t, slow)), slowRoute))
	addr := g.addr(t, 80)

	type result struct {
		res response
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := get(t, newClient(t), addr, "x", "/")
		done <- result{res, err}
	}()
	<-arrived

	stopped := make(chan error, 1)
	go func() { stopped <- g.Shutdown(context.Background()) }()
	eventually(t, "the gateway to stop accepting", func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
		}
		return err != nil && !g.Ready()
	})
	select {
	case err := <-stopped:
		t.Fatalf("Shutdown returned (%v) before the in-flight request finished", err)
	default:
	}

	close(release)
	r := <-done
	if r.err != nil || r.res.code != 200 || r.res.body != "slow" {
		t.Errorf("in-flight request = %d %q (%v), want 200 slow", r.res.code, r.res.body, r.err)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Shutdown = %v, want nil", err)
	}
	if err := g.Apply(snapshot(t, 2, edgeGateway)); err == nil {
		t.Error("Apply after Shutdown succeeded")
	}
}

func TestShutdownBoundedByDrainTimeout(t *testing.T) {
	t.Parallel()
	slow, arrived, _ := slowBackend(t)
	settings := `apiVersion: gatehouse.dev/v1alpha1
kind: Settings
metadata: {name: gatehouse, namespace: istio-system}
spec: {drainTimeout: 50ms}
`
	g := startGateway(t, snapshot(t, 1, edgeGateway, settings, staticEntry("slow", "slow.internal", port(t, slow)), slowRoute))
	done := make(chan error, 1)
	go func() {
		_, err := get(t, newClient(t), g.addr(t, 80), "x", "/")
		done <- err
	}()
	<-arrived
	if err := g.Shutdown(context.Background()); err == nil {
		t.Error("Shutdown with a request stuck past drainTimeout = nil, want a deadline error")
	}
	if err := <-done; err == nil {
		t.Error("the stuck request succeeded, want it cut off")
	}
}

func TestReady(t *testing.T) {
	t.Parallel()
	g := newTestGateway(t, map[uint32]uint32{80: 0})
	if g.Ready() {
		t.Error("ready before the first Apply")
	}
	if err := g.Apply(snapshot(t, 1, edgeGateway)); err != nil {
		t.Fatal(err)
	}
	if !g.Ready() {
		t.Error("not ready after Apply")
	}
	if err := g.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if g.Ready() {
		t.Error("ready after Shutdown")
	}
}
