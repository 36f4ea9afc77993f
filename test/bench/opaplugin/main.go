// Command opaplugin is the third server of test/bench/opa.sh: an Envoy ext_authz gRPC service
// (envoy.service.auth.v3.Authorization, reflection on) that runs a Rego policy the way
// opa-envoy-plugin runs it, so the bench can compare it, in one run, with Gatehouse's built-in
// OPA provider and its native AuthorizationPolicy engine. It is our own code reproducing the
// plugin's documented per-request behaviour (see server.go and input.go), not the plugin.
//
//	opaplugin serve -listen 127.0.0.1:9191 -dir rego [-path envoy/authz/allow]
//	opaplugin check -addr 127.0.0.1:9191 -data requests.json
//
// serve logs the count of allowed, denied and failed checks when it stops. check sends each
// CheckRequest of a JSON array (the file ghz sends) and prints "allow" or "deny STATUS" for each.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/reflection"

	"github.com/gatehouse-dev/gatehouse/authz/opa"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: opaplugin serve|check [flags]")
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "serve":
		err = serveCmd(ctx, os.Args[2:], log)
	case "check":
		err = checkCmd(ctx, os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q: want serve or check", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "opaplugin:", err)
		os.Exit(1)
	}
}

func serveCmd(ctx context.Context, args []string, log *slog.Logger) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:9191", "gRPC listen address (the plugin's default port)")
	dir := fs.String("dir", "", "directory of *.rego modules and data.json/data.yaml files")
	path := fs.String("path", opa.DefaultPath, "decision path, as the plugin's path setting")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		return errors.New("serve: -dir is required")
	}
	modules, data, err := opa.LoadDir(*dir)
	if err != nil {
		return err
	}
	s, err := newServer(ctx, modules, data, *path, log)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	g := grpc.NewServer()
	authv3.RegisterAuthorizationServer(g, s)
	reflection.Register(g)
	go func() {
		<-ctx.Done()
		g.GracefulStop()
	}()
	log.Info("serving", "addr", l.Addr().String(), "path", *path, "modules", len(modules))
	err = g.Serve(l)
	log.Info("stopped", "allowed", s.allowed.Load(), "denied", s.denied.Load(), "failed", s.failed.Load())
	return err
}

func checkCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:9191", "ext_authz gRPC server address")
	data := fs.String("data", "", "JSON array of CheckRequests in protojson")
	if err := fs.Parse(args); err != nil {
		return err
	}
	reqs, err := readRequests(*data)
	if err != nil {
		return err
	}
	return check(ctx, *addr, reqs, os.Stdout)
}
