package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/topdown/cache"
	"github.com/open-policy-agent/opa/v1/topdown/print"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gatehouse-dev/gatehouse/authz/provider"
)

// server answers envoy.service.auth.v3.Authorization/Check the way opa-envoy-plugin's gRPC
// server does, step for step: a decision ID, metrics and a read transaction on the store per
// check; the input built from the CheckRequest through protojson (pluginInput) and converted to
// an AST value with ast.InterfaceToValue; the query, prepared once, evaluated with
// rego.EvalParsedInput, the transaction, the metrics, the inter-query builtin cache and a print
// hook; the decision read from the Go value rego returns. Decision logging is off, as in a plugin
// with no decision_logs configured.
type server struct {
	authv3.UnimplementedAuthorizationServer
	query rego.PreparedEvalQuery
	store storage.Store
	cache cache.InterQueryCache
	path  string
	log   *slog.Logger

	allowed, denied, failed atomic.Int64
}

// newServer compiles modules against data and prepares the decision at path (the plugin's
// slash-separated `path` setting, "envoy/authz/allow" by default).
func newServer(ctx context.Context, modules map[string]string, data map[string]any, path string, log *slog.Logger) (*server, error) {
	ref, err := dataRef(path)
	if err != nil {
		return nil, err
	}
	if data == nil {
		data = map[string]any{}
	}
	store := inmem.NewFromObject(data)
	cfg, err := cache.ParseCachingConfig(nil)
	if err != nil {
		return nil, fmt.Errorf("inter-query cache: %w", err)
	}
	opts := []func(*rego.Rego){
		rego.ParsedQuery(ast.NewBody(ast.NewExpr(ast.NewTerm(ref)))),
		rego.Store(store),
		rego.EnablePrintStatements(true),
	}
	for _, name := range slices.Sorted(maps.Keys(modules)) {
		opts = append(opts, rego.Module(name, modules[name]))
	}
	pq, err := rego.New(opts...).PrepareForEval(ctx)
	if err != nil {
		return nil, fmt.Errorf("preparing %s: %w", path, err)
	}
	return &server{query: pq, store: store, cache: cache.NewInterQueryCacheWithContext(ctx, cfg), path: path, log: log}, nil
}

// dataRef is data.<path>, numeric segments as array indexes, as the plugin reads its path.
func dataRef(path string) (ast.Ref, error) {
	ref := ast.Ref{ast.DefaultRootDocument}
	for seg := range strings.SplitSeq(path, "/") {
		if seg == "" {
			continue
		}
		if i, err := strconv.Atoi(seg); err == nil {
			ref = append(ref, ast.IntNumberTerm(i))
		} else {
			ref = append(ref, ast.StringTerm(seg))
		}
	}
	if len(ref) == 1 {
		return nil, fmt.Errorf("path %q names no decision", path)
	}
	return ref, nil
}

func (s *server) Check(ctx context.Context, cr *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	m := metrics.New()
	m.Timer(metrics.ServerHandler).Start()
	defer m.Timer(metrics.ServerHandler).Stop()
	id, err := decisionID()
	if err != nil {
		s.failed.Add(1)
		return nil, status.Errorf(codes.Internal, "decision id: %v", err)
	}
	txn, err := s.store.NewTransaction(ctx)
	if err != nil {
		s.failed.Add(1)
		return nil, status.Errorf(codes.Internal, "store transaction: %v", err)
	}
	defer s.store.Abort(ctx, txn)

	input, err := pluginInput(cr)
	if err != nil {
		// The plugin answers a request it cannot turn into input with a 400 denial.
		s.denied.Add(1)
		return provider.Render(provider.Result{Status: http.StatusBadRequest, Body: err.Error()}), nil
	}
	value, err := ast.InterfaceToValue(input)
	if err != nil {
		s.failed.Add(1)
		return nil, status.Errorf(codes.Internal, "input: %v", err)
	}
	rs, err := s.query.Eval(ctx,
		rego.EvalParsedInput(value),
		rego.EvalTransaction(txn),
		rego.EvalMetrics(m),
		rego.EvalInterQueryBuiltinCache(s.cache),
		rego.EvalPrintHook(printHook{s.log.With("decision-id", id)}),
	)
	switch {
	case err == nil && len(rs) == 0:
		err = fmt.Errorf("undefined decision")
	case err == nil && len(rs) > 1:
		err = fmt.Errorf("multiple evaluation results")
	}
	if err != nil {
		s.failed.Add(1)
		return nil, status.Errorf(codes.Unknown, "evaluating %s: %v", s.path, err)
	}
	res, err := decision(rs[0].Expressions[0].Value)
	if err != nil {
		s.failed.Add(1)
		return nil, status.Errorf(codes.Unknown, "%s: %v", s.path, err)
	}
	if res.Allowed {
		s.allowed.Add(1)
	} else {
		s.denied.Add(1)
	}
	return provider.Render(res), nil
}

// decisionID is a random UUIDv4, as the plugin stamps every decision.
func decisionID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
}

// printHook sends Rego print() output to the log, as the plugin logs it at info.
type printHook struct{ log *slog.Logger }

func (h printHook) Print(pctx print.Context, msg string) error {
	loc := ""
	if pctx.Location != nil {
		loc = pctx.Location.String()
	}
	h.log.Info("print", "location", loc, "msg", msg)
	return nil
}
