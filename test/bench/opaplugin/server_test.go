package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
)

const testPolicy = `package envoy.authz

import input.attributes.request.http as http_request

default allow := {"allowed": false, "http_status": 401, "body": "who are you"}

allow := {"allowed": true, "headers": {"x-user": http_request.headers["x-user"]}} if {
	input.parsed_path[0] == "books"
	http_request.headers["x-user"] == data.users[_]
}

allow := {"allowed": false, "http_status": 403} if {
	http_request.headers["x-user"]
	input.parsed_path[0] != "books"
}
`

const testRequests = `[
 {"attributes": {"request": {"http": {"method": "GET", "path": "/books/1", "headers": {"x-user": "alice"}}}}},
 {"attributes": {"request": {"http": {"method": "GET", "path": "/admin", "headers": {"x-user": "alice"}}}}},
 {"attributes": {"request": {"http": {"method": "GET", "path": "/books/1", "headers": {}}}}}
]`

// The server, over gRPC on loopback, answers as the policy decides, and check prints the
// decisions the bench compares.
func TestServeAndCheck(t *testing.T) {
	t.Parallel()
	requests := filepath.Join(t.TempDir(), "requests.json")
	if err := os.WriteFile(requests, []byte(testRequests), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s, err := newServer(ctx, map[string]string{"policy.rego": testPolicy}, map[string]any{"users": []any{"alice"}},
		"envoy/authz/allow", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	authv3.RegisterAuthorizationServer(g, s)
	go func() { _ = g.Serve(l) }()
	t.Cleanup(g.Stop)

	reqs, err := readRequests(requests)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := check(ctx, l.Addr().String(), reqs, &out); err != nil {
		t.Fatal(err)
	}
	if want := "allow\ndeny 403\ndeny 401\n"; out.String() != want {
		t.Errorf("check printed %q, want %q", out.String(), want)
	}
	if a, d, f := s.allowed.Load(), s.denied.Load(), s.failed.Load(); a != 1 || d != 2 || f != 0 {
		t.Errorf("counted %d allowed, %d denied, %d failed; want 1, 2, 0", a, d, f)
	}
}

func TestNewServerRejectsBadPolicy(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if _, err := newServer(context.Background(), map[string]string{"p.rego": "package envoy.authz\n\nallow := \n"}, nil, "envoy/authz/allow", log); err == nil {
		t.Error("a policy that does not parse was accepted")
	}
	if _, err := newServer(context.Background(), nil, nil, "/", log); err == nil {
		t.Error("a path naming no decision was accepted")
	}
}
