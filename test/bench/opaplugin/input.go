package main

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/open-policy-agent/opa/v1/util"
	"google.golang.org/protobuf/encoding/protojson"
)

// pluginInput builds the input document the way opa-envoy-plugin's RequestToInput does for a v3
// CheckRequest, and at the same cost: the whole message is protojson-marshalled and unmarshalled
// into a map (OPA's util.UnmarshalJSON, numbers as json.Number), then version, parsed_path,
// parsed_query, parsed_body and truncated_body are added from the request's path, headers and
// body. This is what the comparison measures, so nothing here is cached across requests.
func pluginInput(cr *authv3.CheckRequest) (map[string]any, error) {
	bs, err := protojson.Marshal(cr)
	if err != nil {
		return nil, fmt.Errorf("check request: %w", err)
	}
	var input map[string]any
	if err := util.UnmarshalJSON(bs, &input); err != nil {
		return nil, fmt.Errorf("check request: %w", err)
	}
	h := cr.GetAttributes().GetRequest().GetHttp()
	input["version"] = map[string]any{"ext_authz": "v3", "encoding": "protojson"}
	path, query, err := parsePath(h.GetPath())
	if err != nil {
		return nil, fmt.Errorf("attributes.request.http.path: %w", err)
	}
	input["parsed_path"], input["parsed_query"] = path, query
	body, truncated, err := parseBody(h.GetHeaders(), h.GetBody())
	if err != nil {
		return nil, fmt.Errorf("attributes.request.http.body: %w", err)
	}
	input["parsed_body"], input["truncated_body"] = body, truncated
	return input, nil
}

// parsePath is the plugin's parsed_path and parsed_query: url.Parse of the :path, its path
// split on "/" after the leading slashes, and every query parameter as a list of values.
func parsePath(p string) ([]any, map[string]any, error) {
	u, err := url.Parse(p)
	if err != nil {
		return nil, nil, err
	}
	segs := strings.Split(strings.TrimLeft(u.Path, "/"), "/")
	path := make([]any, len(segs))
	for i, s := range segs {
		path[i] = s
	}
	query := map[string]any{}
	for k, vs := range u.Query() {
		query[k] = strings2any(vs)
	}
	return path, query, nil
}

// parseBody is the plugin's parsed_body for JSON and URL-encoded forms: nil without a body or a
// content-type, and truncated when content-length says more was sent than Envoy forwarded.
// The bench requests carry no body; multipart and gRPC bodies are not parsed here.
func parseBody(hdrs map[string]string, body string) (any, bool, error) {
	ct, ok := hdrs["content-type"]
	if !ok || body == "" {
		return nil, false, nil
	}
	if cl, ok := hdrs["content-length"]; ok {
		n, err := strconv.ParseInt(cl, 10, 64)
		if err != nil {
			return nil, false, fmt.Errorf("content-length %q: %w", cl, err)
		}
		if n != -1 && n > int64(len(body)) {
			return nil, true, nil
		}
	}
	switch {
	case strings.Contains(ct, "application/json"):
		var v any
		if err := util.UnmarshalJSON([]byte(body), &v); err != nil {
			return nil, false, err
		}
		return v, false, nil
	case strings.Contains(ct, "application/x-www-form-urlencoded"):
		vals, err := url.ParseQuery(body)
		if err != nil {
			return nil, false, err
		}
		form := make(map[string]any, len(vals))
		for k, vs := range vals {
			form[k] = strings2any(vs)
		}
		return form, false, nil
	}
	return nil, false, nil
}

func strings2any(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
