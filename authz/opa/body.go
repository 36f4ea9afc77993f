package opa

import (
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/url"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/util"

	"github.com/gatehouse-dev/gatehouse/authz"
)

// parseBody is the plugin's parsed_body and truncated_body: JSON, form and multipart bodies are
// parsed by Content-Type; a body shorter than its Content-Length was cut at max_request_bytes, so
// it is not parsed and truncated_body is true; anything else is null.
func parseBody(r *authz.Request, body []byte) (*ast.Term, bool, error) {
	ct := strings.Join(r.Header["Content-Type"], ",")
	if ct == "" || len(body) == 0 {
		return ast.InternedNullTerm, false, nil
	}
	var parse func(string, []byte) (ast.Value, error)
	switch {
	case strings.Contains(ct, "application/json"):
		parse = jsonBody
	case strings.Contains(ct, "application/x-www-form-urlencoded"):
		parse = formBody
	case strings.Contains(ct, "multipart/form-data"):
		parse = multipartBody
	default:
		return ast.InternedNullTerm, false, nil
	}
	cl, err := contentLength(r)
	if err != nil {
		return nil, false, err
	}
	if cl != -1 && cl > int64(len(body)) {
		return ast.InternedNullTerm, true, nil
	}
	v, err := parse(ct, body)
	if err != nil || v == nil {
		return ast.InternedNullTerm, false, err
	}
	return ast.NewTerm(v), false, nil
}

func jsonBody(_ string, body []byte) (ast.Value, error) {
	var x any
	if err := util.UnmarshalJSON(body, &x); err != nil {
		return nil, err
	}
	return ast.InterfaceToValue(x)
}

func formBody(_ string, body []byte) (ast.Value, error) {
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, err
	}
	obj := ast.NewObject()
	for k, vs := range vals {
		obj.Insert(ast.StringTerm(k), ast.NewTerm(stringArray(vs)))
	}
	return obj, nil
}

// multipartBody maps each named part to the list of its values: a JSON part's parsed value,
// otherwise its text. Unnamed parts are skipped; no boundary means no parsed body.
func multipartBody(ct string, body []byte) (ast.Value, error) {
	_, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return nil, err
	}
	boundary, ok := params["boundary"]
	if !ok {
		return nil, nil
	}
	values := map[string][]*ast.Term{}
	var names []string
	mr := multipart.NewReader(strings.NewReader(string(body)), boundary)
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		name := part.FormName()
		if name == "" {
			continue
		}
		data, err := io.ReadAll(part)
		if err != nil {
			return nil, err
		}
		var t *ast.Term
		if strings.Contains(part.Header.Get("Content-Type"), "application/json") {
			v, err := jsonBody("", data)
			if err != nil {
				return nil, err
			}
			t = ast.NewTerm(v)
		} else {
			t = ast.StringTerm(string(data))
		}
		if _, seen := values[name]; !seen {
			names = append(names, name)
		}
		values[name] = append(values[name], t)
	}
	obj := ast.NewObject()
	for _, n := range names {
		obj.Insert(ast.StringTerm(n), ast.ArrayTerm(values[n]...))
	}
	return obj, nil
}
