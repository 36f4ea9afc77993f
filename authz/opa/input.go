package opa

import (
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/gatehouse-dev/gatehouse/authz"
)

// Input document keys, as opa-envoy-plugin names them: the CheckRequest in protojson field names
// under attributes, plus what the plugin derives from it.
var (
	keyAttributes    = ast.InternedTerm("attributes")
	keyParsedPath    = ast.InternedTerm("parsed_path")
	keyParsedQuery   = ast.InternedTerm("parsed_query")
	keyParsedBody    = ast.InternedTerm("parsed_body")
	keyTruncatedBody = ast.InternedTerm("truncated_body")
	keyVersion       = ast.InternedTerm("version")

	// versionTerm is the plugin's v3 marker; shared read-only by every input.
	versionTerm = ast.ObjectTerm(
		ast.Item(ast.InternedTerm("encoding"), ast.InternedTerm("protojson")),
		ast.Item(ast.InternedTerm("ext_authz"), ast.InternedTerm("v3")),
	)
)

// input builds the plugin's input document for r. body is the request body as Body() asked for
// it. An error is what the plugin answers with a 400 (a path or body it cannot parse).
func (p *Provider) input(r *authz.Request, body []byte) (ast.Value, error) {
	path, err := unescapePath(r.Path)
	if err != nil {
		return nil, fmt.Errorf("error parsing path and query: %w", err)
	}
	parsedBody, truncated, err := parseBody(r, body)
	if err != nil {
		return nil, fmt.Errorf("error parsing request body: %w", err)
	}
	return ast.NewObject(
		ast.Item(keyAttributes, ast.NewTerm(p.attributes(r, body))),
		ast.Item(keyParsedPath, ast.NewTerm(parsedPath(path))),
		ast.Item(keyParsedQuery, ast.NewTerm(parsedQuery(r.RawQuery))),
		ast.Item(keyParsedBody, parsedBody),
		ast.Item(keyTruncatedBody, ast.InternedTerm(truncated)),
		ast.Item(keyVersion, versionTerm),
	), nil
}

// attributes is the AttributeContext Envoy would send for r, as protojson renders it: camelCase
// field names, empty fields left out, int64 as a string, the timestamp in RFC 3339.
func (p *Provider) attributes(r *authz.Request, body []byte) ast.Object {
	src := peer(r.Source)
	if r.SourcePrincipal != "" {
		src.Insert(ast.InternedTerm("principal"), ast.StringTerm("spiffe://"+r.SourcePrincipal))
	}
	attrs := ast.NewObject(
		ast.Item(ast.InternedTerm("source"), ast.NewTerm(src)),
		ast.Item(ast.InternedTerm("destination"), ast.NewTerm(peer(r.Destination))),
	)
	req := ast.NewObject(ast.Item(ast.InternedTerm("time"), ast.StringTerm(protoTime(p.opts.Now()))))
	if r.HTTP {
		req.Insert(ast.InternedTerm("http"), ast.NewTerm(httpRequest(r, body)))
	}
	attrs.Insert(ast.InternedTerm("request"), ast.NewTerm(req))
	if p.ctxExt != nil {
		attrs.Insert(ast.InternedTerm("contextExtensions"), p.ctxExt)
	}
	if len(r.FilterMetadata) > 0 {
		attrs.Insert(ast.InternedTerm("metadataContext"), ast.ObjectTerm(
			ast.Item(ast.InternedTerm("filterMetadata"), ast.NewTerm(filterMetadata(r.FilterMetadata)))))
	}
	if r.SNI != "" {
		attrs.Insert(ast.InternedTerm("tlsSession"), ast.ObjectTerm(
			ast.Item(ast.InternedTerm("sni"), ast.StringTerm(r.SNI))))
	}
	return attrs
}

// peer is an AttributeContext.Peer with its socket address.
func peer(ap netip.AddrPort) ast.Object {
	if !ap.IsValid() {
		return ast.NewObject()
	}
	sock := ast.ObjectTerm(
		ast.Item(ast.InternedTerm("address"), ast.StringTerm(ap.Addr().String())),
		ast.Item(ast.InternedTerm("portValue"), ast.InternedTerm(int(ap.Port()))),
	)
	return ast.NewObject(ast.Item(ast.InternedTerm("address"),
		ast.ObjectTerm(ast.Item(ast.InternedTerm("socketAddress"), sock))))
}

// httpRequest is AttributeContext.HttpRequest: Envoy's lower-case header map with the
// pseudo-headers, several values of one header joined with ',', and size -1 (unknown) as Envoy
// sends it without a buffered body.
func httpRequest(r *authz.Request, body []byte) ast.Object {
	target := r.Path
	if r.RawQuery != "" {
		target += "?" + r.RawQuery
	}
	hdrs := ast.NewObject()
	for k, vs := range r.Header {
		hdrs.Insert(ast.StringTerm(strings.ToLower(k)), ast.StringTerm(strings.Join(vs, ",")))
	}
	hdrs.Insert(ast.InternedTerm(":authority"), ast.StringTerm(r.Host))
	hdrs.Insert(ast.InternedTerm(":method"), ast.StringTerm(r.Method))
	hdrs.Insert(ast.InternedTerm(":path"), ast.StringTerm(target))
	h := ast.NewObject(
		ast.Item(ast.InternedTerm("method"), ast.StringTerm(r.Method)),
		ast.Item(ast.InternedTerm("headers"), ast.NewTerm(hdrs)),
		ast.Item(ast.InternedTerm("path"), ast.StringTerm(target)),
		ast.Item(ast.InternedTerm("size"), ast.InternedTerm("-1")),
	)
	if r.Scheme != "" {
		hdrs.Insert(ast.InternedTerm(":scheme"), ast.StringTerm(r.Scheme))
		h.Insert(ast.InternedTerm("scheme"), ast.StringTerm(r.Scheme))
	}
	if r.Host != "" {
		h.Insert(ast.InternedTerm("host"), ast.StringTerm(r.Host))
	}
	if len(body) > 0 {
		h.Insert(ast.InternedTerm("body"), ast.StringTerm(string(body)))
	}
	return h
}

// protoTime formats t as protojson formats a google.protobuf.Timestamp: UTC, 'Z', and 0, 3, 6
// or 9 fractional digits.
func protoTime(t time.Time) string {
	t = t.UTC()
	ns := t.Nanosecond()
	switch {
	case ns == 0:
		return t.Format("2006-01-02T15:04:05Z")
	case ns%1e6 == 0:
		return t.Format("2006-01-02T15:04:05.000Z")
	case ns%1e3 == 0:
		return t.Format("2006-01-02T15:04:05.000000Z")
	}
	return t.Format("2006-01-02T15:04:05.000000000Z")
}

// unescapePath decodes the path as url.Parse does for the plugin's parsed_path: %2F becomes a
// '/' and so splits segments.
func unescapePath(p string) (string, error) {
	if !strings.Contains(p, "%") {
		return p, nil
	}
	return url.PathUnescape(p)
}

// parsedPath is the decoded path without its leading slashes, split on '/': "/" is [""].
func parsedPath(path string) ast.Value {
	path = strings.TrimLeft(path, "/")
	n := strings.Count(path, "/") + 1
	terms := make([]*ast.Term, 0, n)
	for seg := range strings.SplitSeq(path, "/") {
		terms = append(terms, ast.StringTerm(seg))
	}
	return ast.NewArray(terms...)
}

// parsedQuery is the query as a map of value lists. Malformed pairs are skipped, as url.URL.Query
// (which the plugin uses) skips them.
func parsedQuery(raw string) ast.Value {
	obj := ast.NewObject()
	if raw == "" {
		return obj
	}
	vals, _ := url.ParseQuery(raw)
	for k, vs := range vals {
		obj.Insert(ast.StringTerm(k), ast.NewTerm(stringArray(vs)))
	}
	return obj
}

func stringArray(vs []string) *ast.Array {
	terms := make([]*ast.Term, len(vs))
	for i, v := range vs {
		terms[i] = ast.StringTerm(v)
	}
	return ast.NewArray(terms...)
}

func stringMap(m map[string]string) ast.Object {
	obj := ast.NewObject()
	for k, v := range m {
		obj.Insert(ast.StringTerm(k), ast.StringTerm(v))
	}
	return obj
}

// filterMetadata is metadata_context.filter_metadata: filter name to a Struct of strings and lists.
func filterMetadata(fm map[string]map[string]any) ast.Object {
	out := ast.NewObject()
	for filter, vals := range fm {
		st := ast.NewObject()
		for k, v := range vals {
			if t := metadataTerm(v); t != nil {
				st.Insert(ast.StringTerm(k), t)
			}
		}
		out.Insert(ast.StringTerm(filter), ast.NewTerm(st))
	}
	return out
}

func metadataTerm(v any) *ast.Term {
	switch v := v.(type) {
	case []string:
		return ast.NewTerm(stringArray(v))
	case string:
		return ast.StringTerm(v)
	}
	val, err := ast.InterfaceToValue(v)
	if err != nil {
		return nil
	}
	return ast.NewTerm(val)
}

// contentLength is the request's Content-Length, or -1 without one.
func contentLength(r *authz.Request) (int64, error) {
	vs := r.Header["Content-Length"]
	if len(vs) == 0 {
		return -1, nil
	}
	return strconv.ParseInt(strings.Join(vs, ","), 10, 64)
}
