package opa

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/topdown/cache"
	"github.com/open-policy-agent/opa/v1/topdown/print"

	"github.com/gatehouse-dev/gatehouse/authz"
	"github.com/gatehouse-dev/gatehouse/authz/provider"
)

// Provider runs one compiled set of Rego modules. It is immutable once built: a policy change
// builds a new Provider and the caller swaps it in.
type Provider struct {
	opts  Options
	query rego.PreparedEvalQuery
	// ctxExt is Options.ContextExtensions as an input term, built once.
	ctxExt *ast.Term
	// values is OPA's inter-query value cache, kept for the provider's life: io.jwt.* reuse a
	// token's verified signature and parsed keys from it instead of verifying on every request.
	values cache.InterQueryValueCache
}

var _ provider.Provider = (*Provider)(nil)

// New compiles the modules and prepares the decision query. Compile errors name file:line.
func New(opts Options) (*Provider, error) {
	opts.defaults()
	ref, err := decisionRef(opts.Path)
	if err != nil {
		return nil, err
	}
	if opts.StatusOnError < 100 || opts.StatusOnError > 599 {
		return nil, fmt.Errorf("opa: statusOnError %d: not an HTTP status", opts.StatusOnError)
	}
	data := opts.Data
	if data == nil {
		data = map[string]any{}
	}
	// The store hands the evaluator AST values directly, so data is never converted per request.
	store := inmem.NewFromObjectWithOpts(data, inmem.OptRoundTripOnWrite(true), inmem.OptReturnASTValuesOnRead(true))
	ropts := []func(*rego.Rego){
		rego.ParsedQuery(ast.NewBody(ast.NewExpr(ast.NewTerm(ref)))),
		rego.Store(store),
		rego.StoreReadAST(true),
		rego.SetRegoVersion(opts.RegoVersion),
		rego.EnablePrintStatements(true),
		rego.PrintHook(printHook{opts.Logger}),
		// Keep the decision as an AST value: reading it needs no JSON conversion.
		rego.GenerateJSON(func(t *ast.Term, _ *rego.EvalContext) (any, error) { return t.Value, nil }),
	}
	for _, name := range slices.Sorted(maps.Keys(opts.Modules)) {
		ropts = append(ropts, rego.Module(name, opts.Modules[name]))
	}
	pq, err := rego.New(ropts...).PrepareForEval(context.Background())
	if err != nil {
		return nil, fmt.Errorf("opa: %w", err)
	}
	values, err := newValueCache()
	if err != nil {
		return nil, fmt.Errorf("opa: %w", err)
	}
	p := &Provider{opts: opts, query: pq, values: values}
	if len(opts.ContextExtensions) > 0 {
		p.ctxExt = ast.NewTerm(stringMap(opts.ContextExtensions))
	}
	return p, nil
}

// decisionRef turns opa-envoy-plugin's slash-separated path into data.<path>; numeric segments
// are array indexes, as the plugin reads them.
func decisionRef(path string) (ast.Ref, error) {
	ref := ast.Ref{ast.DefaultRootDocument}
	for seg := range strings.SplitSeq(path, "/") {
		if seg == "" {
			continue
		}
		if i, err := strconv.Atoi(seg); err == nil {
			ref = append(ref, ast.IntNumberTerm(i))
			continue
		}
		ref = append(ref, ast.StringTerm(seg))
	}
	if len(ref) == 1 {
		return nil, fmt.Errorf("opa: path %q: names no decision", path)
	}
	return ref, nil
}

// Body is includeRequestBodyInCheck.
func (p *Provider) Body() (int, bool) { return p.opts.MaxRequestBytes, p.opts.AllowPartialMessage }

// Check evaluates the decision for r. It is safe for concurrent use.
func (p *Provider) Check(ctx context.Context, r *authz.Request, body []byte) provider.Result {
	input, err := p.input(r, body)
	if err != nil {
		// The plugin answers a request it cannot turn into input with a 400 denial, not an error.
		return provider.Result{Status: http.StatusBadRequest, Body: err.Error()}
	}
	rs, err := p.query.Eval(ctx, rego.EvalParsedInput(input), rego.EvalInterQueryBuiltinValueCache(p.values))
	switch {
	case err != nil:
		return p.onError(fmt.Errorf("evaluating %s: %w", p.opts.Path, err))
	case len(rs) == 0:
		return p.onError(fmt.Errorf("evaluating %s: undefined decision", p.opts.Path))
	case len(rs) > 1:
		return p.onError(fmt.Errorf("evaluating %s: multiple evaluation results", p.opts.Path))
	}
	v, _ := rs[0].Expressions[0].Value.(ast.Value)
	res, err := result(v)
	if err != nil {
		return p.onError(fmt.Errorf("decision %s: %w", p.opts.Path, err))
	}
	return res
}

// onError is what Envoy's ext_authz filter does when the service errs: failure_mode_allow lets
// the request through, otherwise it is denied with status_on_error.
func (p *Provider) onError(err error) provider.Result {
	p.opts.Logger.Warn("opa: no decision", "err", err, "failOpen", p.opts.FailOpen)
	if p.opts.FailOpen {
		return provider.Result{Allowed: true, Status: http.StatusOK, Err: err}
	}
	return provider.Result{Status: p.opts.StatusOnError, Err: err}
}

// printHook sends Rego print() output to the log, as the plugin logs it at info.
type printHook struct{ log *slog.Logger }

func (h printHook) Print(pctx print.Context, msg string) error {
	loc := ""
	if pctx.Location != nil {
		loc = pctx.Location.String()
	}
	h.log.Info("opa: print", "location", loc, "msg", msg)
	return nil
}
