package extauthz

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"reflect"
	"testing"

	"github.com/gatehouse-dev/gatehouse/authz"
)

// TestClientRoundTrip asks the real gRPC server through the Client and expects the decisions
// the Engine gives in-process.
func TestClientRoundTrip(t *testing.T) {
	t.Parallel()
	sig := newSigner(t)
	engine, srv := newTestEngine(t, testPolicies(sig))
	addr, _ := serveGRPC(t, srv)
	client, err := NewClient(addr, ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	good := sig.token(t, "https://issuer.example", "alice")
	foo := authz.NewWorkload("foo", nil)
	httpbin := authz.NewWorkload("foo", map[string]string{"app": "httpbin", "version": "v1"}, "httpbin")

	req := func(w *authz.Workload, method, path string, mods ...func(*authz.Request)) *authz.Request {
		r := &authz.Request{
			Workload: w, HTTP: true, Method: method, Host: "httpbin.foo", Path: path, Scheme: "http",
			Header:      http.Header{"User-Agent": {"test"}},
			Source:      netip.MustParseAddrPort("10.0.0.1:40000"),
			RemoteIP:    netip.MustParseAddr("10.0.0.1"),
			Destination: netip.MustParseAddrPort("10.0.0.2:8080"),
		}
		for _, m := range mods {
			m(r)
		}
		return r
	}
	bearer := func(tok string) func(*authz.Request) {
		return func(r *authz.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
	}
	tests := []struct {
		name string
		req  *authz.Request
	}{
		{"allowed", req(foo, "GET", "/ip")},
		{"DENY by path", req(foo, "GET", "/admin")},
		{"query kept apart", req(foo, "GET", "/ip", func(r *authz.Request) { r.RawQuery = "a=1" })},
		{"ALLOW by labels", req(httpbin, "GET", "/ip")},
		{"ALLOW by labels: POST denied", req(httpbin, "POST", "/ip")},
		{"good JWT", req(foo, "GET", "/ip", bearer(good))},
		{"bad JWT", req(foo, "GET", "/ip", bearer(good+"x"))},
		{"default workload", req(ingress, "GET", "/admin")},
		{"mTLS peer", req(foo, "GET", "/ip", func(r *authz.Request) { r.SourcePrincipal = "cluster.local/ns/foo/sa/sleep"; r.SNI = "httpbin.foo" })},
		{"TCP", &authz.Request{Workload: httpbin, Source: netip.MustParseAddrPort("10.0.0.1:1"), Destination: netip.MustParseAddrPort("10.0.0.2:5432")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			want := engine.Check(context.Background(), tt.req)
			got := client.Check(context.Background(), tt.req)
			want.Identity = nil // not carried over the wire
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("client decision\n %+v\nengine decision\n %+v", got, want)
			}
		})
	}
}

func TestClientFailureMode(t *testing.T) {
	t.Parallel()
	// A port nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	r := &authz.Request{Workload: ingress, HTTP: true, Method: "GET", Path: "/", Header: http.Header{}}

	tests := []struct {
		name    string
		opts    ClientOptions
		allowed bool
		status  int
	}{
		{"fail closed by default", ClientOptions{}, false, http.StatusForbidden},
		{"status_on_error", ClientOptions{StatusOnError: http.StatusServiceUnavailable}, false, http.StatusServiceUnavailable},
		{"failure_mode_allow", ClientOptions{FailureModeAllow: true}, true, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := NewClient(addr, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			d := c.Check(context.Background(), r)
			if d.Allowed != tt.allowed || d.Status != tt.status {
				t.Fatalf("decision %+v, want allowed %v status %d", d, tt.allowed, tt.status)
			}
		})
	}
}
