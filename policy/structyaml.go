package policy

import (
	"errors"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// decodeStruct decodes a Gatehouse kind's spec (a Go struct with yaml tags) as strictly as the
// proto decoder: unknown fields are errors with their path and line. Type errors come from yaml.v3,
// which keeps the node's own line numbers.
func decodeStruct(n *yaml.Node, path string, out any, d *protoDecoder) bool {
	n = resolve(n)
	if isNull(n) {
		return true
	}
	before := len(d.errors)
	checkKnownFields(n, path, reflect.TypeOf(out).Elem(), d)
	if len(d.errors) > before {
		return false
	}
	if err := n.Decode(out); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			for _, e := range te.Errors {
				d.errors = append(d.errors, fieldError{path: path, line: lineOf(e, n.Line), reason: yamlReason(errors.New(e))})
			}
		} else {
			d.fail(n, path, "%s", yamlReason(err))
		}
		return false
	}
	return true
}

func lineOf(msg string, fallback int) int {
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		if l, err := strconv.Atoi(m[1]); err == nil {
			return l
		}
	}
	return fallback
}

// checkKnownFields walks a mapping against a struct type's yaml tags.
func checkKnownFields(n *yaml.Node, path string, t reflect.Type, d *protoDecoder) {
	n = resolve(n)
	if !d.visit(n) {
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			d.fail(n, path, "expected a mapping, got %s", describe(n))
			return
		}
		fields := map[string]reflect.Type{}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name != "" && name != "-" {
				fields[name] = f.Type
			}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := resolve(n.Content[i])
			fpath := path + "." + k.Value
			d.lines[fpath] = k.Line
			ft, ok := fields[k.Value]
			if !ok {
				d.fail(k, fpath, "unknown field %q", k.Value)
				continue
			}
			checkKnownFields(n.Content[i+1], fpath, ft, d)
		}
	case reflect.Slice:
		if n.Kind == yaml.SequenceNode {
			for _, e := range n.Content {
				checkKnownFields(e, path+"[]", t.Elem(), d)
			}
		}
	case reflect.Map:
		if n.Kind == yaml.MappingNode {
			for i := 1; i < len(n.Content); i += 2 {
				checkKnownFields(n.Content[i], path+"."+resolve(n.Content[i-1]).Value, t.Elem(), d)
			}
		}
	}
}
