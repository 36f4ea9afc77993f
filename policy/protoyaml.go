package policy

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// fieldError is a decoding problem at a field path and line.
type fieldError struct {
	path   string
	line   int
	reason string
}

// protoDecoder decodes a YAML tree into a proto message strictly: unknown fields, wrong types,
// bad enum names, out-of-range numbers and conflicting oneof fields are errors with the field path
// and line. It records the line of every field it sees so later findings can point at them.
//
// It works in two steps: walk the YAML against the message descriptor, producing a JSON value in
// protojson's shape (that is where every check and line lives), then let protojson build the message.
type protoDecoder struct {
	lines  map[string]int
	errors []fieldError
	// visited counts the nodes walked. Aliases make a small document name a huge tree ("billion
	// laughs"), so the walk stops at maxNodes.
	visited  int
	exceeded bool
}

// maxNodes bounds the nodes walked for one document, aliases expanded: far above any real config.
const maxNodes = 200_000

// visit counts a node and reports whether the walk may go on.
func (d *protoDecoder) visit(n *yaml.Node) bool {
	d.visited++
	if d.visited <= maxNodes {
		return true
	}
	if !d.exceeded {
		d.exceeded = true
		d.fail(n, "", "document is too large once its aliases are expanded (more than %d nodes)", maxNodes)
	}
	return false
}

func (d *protoDecoder) fail(n *yaml.Node, path, format string, args ...any) {
	d.errors = append(d.errors, fieldError{path: path, line: n.Line, reason: fmt.Sprintf(format, args...)})
}

// decode fills msg from n. It returns false when any error was recorded.
func (d *protoDecoder) decode(n *yaml.Node, path string, msg proto.Message) bool {
	before := len(d.errors)
	v := d.message(n, path, msg.ProtoReflect().Descriptor())
	if len(d.errors) > before {
		return false
	}
	if v == nil {
		return true
	}
	b, err := json.Marshal(v)
	if err != nil {
		d.fail(n, path, "cannot encode: %v", err)
		return false
	}
	if err := (protojson.UnmarshalOptions{}).Unmarshal(b, msg); err != nil {
		// The walk mirrors protojson's rules, so this is a gap in the walk, not a user error we
		// can place precisely; report it at the message with protojson's words.
		d.fail(n, path, "%v", err)
		return false
	}
	return true
}

func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!str":
			return fmt.Sprintf("string %q", n.Value)
		case "!!int":
			return "integer " + n.Value
		case "!!float":
			return "number " + n.Value
		case "!!bool":
			return "boolean " + n.Value
		case "!!null":
			return "null"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "an unexpected node"
}

// message walks a mapping against a message descriptor.
func (d *protoDecoder) message(n *yaml.Node, path string, md protoreflect.MessageDescriptor) any {
	n = resolve(n)
	if isNull(n) || !d.visit(n) {
		return nil
	}
	if wkt, ok := d.wellKnown(n, path, md); ok {
		return wkt
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "expected a mapping (%s), got %s", md.Name(), describe(n))
		return nil
	}
	out := make(map[string]any, len(n.Content)/2)
	seen := map[string]bool{}
	oneofs := map[protoreflect.FullName]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		key := k.Value
		fpath := path + "." + key
		if path == "" {
			fpath = key
		}
		d.lines[fpath] = k.Line
		fd := md.Fields().ByJSONName(key)
		if fd == nil {
			fd = md.Fields().ByTextName(key)
		}
		if fd == nil {
			d.fail(k, fpath, "unknown field %q in %s%s", key, md.Name(), suggestField(key, md))
			continue
		}
		name := fd.JSONName()
		if seen[name] {
			d.fail(k, fpath, "field %q is set twice", key)
			continue
		}
		seen[name] = true
		if isNull(resolve(v)) {
			continue // Kubernetes drops null fields; so do we.
		}
		if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() {
			if other, dup := oneofs[od.FullName()]; dup {
				d.fail(k, fpath, "only one of %s may be set, found %q and %q", oneofNames(od), other, key)
				continue
			}
			oneofs[od.FullName()] = key
		}
		if val := d.field(v, fpath, fd); val != nil {
			out[name] = val
		}
	}
	return out
}

func oneofNames(od protoreflect.OneofDescriptor) string {
	names := make([]string, od.Fields().Len())
	for i := range names {
		names[i] = od.Fields().Get(i).JSONName()
	}
	return strings.Join(names, ", ")
}

// suggestField names the closest field when a key looks like a typo of one.
func suggestField(key string, md protoreflect.MessageDescriptor) string {
	best, bestDist := "", 3
	for i := 0; i < md.Fields().Len(); i++ {
		name := md.Fields().Get(i).JSONName()
		if d := editDistance(strings.ToLower(key), strings.ToLower(name)); d < bestDist {
			best, bestDist = name, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// field decodes one field's value: a list, a map or a single value.
func (d *protoDecoder) field(n *yaml.Node, path string, fd protoreflect.FieldDescriptor) any {
	n = resolve(n)
	if !d.visit(n) {
		return nil
	}
	switch {
	case fd.IsList():
		if n.Kind != yaml.SequenceNode {
			d.fail(n, path, "expected a list, got %s", describe(n))
			return nil
		}
		out := make([]any, 0, len(n.Content))
		for i, e := range n.Content {
			epath := fmt.Sprintf("%s[%d]", path, i)
			d.lines[epath] = resolve(e).Line
			if isNull(resolve(e)) {
				d.fail(e, epath, "list elements must not be null")
				continue
			}
			if v := d.single(e, epath, fd); v != nil {
				out = append(out, v)
			}
		}
		return out
	case fd.IsMap():
		if n.Kind != yaml.MappingNode {
			d.fail(n, path, "expected a mapping, got %s", describe(n))
			return nil
		}
		out := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := resolve(n.Content[i])
			kpath := path + "." + k.Value
			d.lines[kpath] = k.Line
			if _, dup := out[k.Value]; dup {
				d.fail(k, kpath, "key %q is set twice", k.Value)
				continue
			}
			if fd.MapKey().Kind() != protoreflect.StringKind {
				if _, err := strconv.ParseInt(k.Value, 10, 64); err != nil {
					d.fail(k, kpath, "map key %q must be an integer", k.Value)
					continue
				}
			}
			if v := d.single(n.Content[i+1], kpath, fd.MapValue()); v != nil {
				out[k.Value] = v
			}
		}
		return out
	}
	return d.single(n, path, fd)
}

// single decodes one scalar or message value of the field's kind.
func (d *protoDecoder) single(n *yaml.Node, path string, fd protoreflect.FieldDescriptor) any {
	n = resolve(n)
	if !d.visit(n) {
		return nil
	}
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return d.message(n, path, fd.Message())
	case protoreflect.EnumKind:
		return d.enum(n, path, fd.Enum())
	}
	return d.scalar(n, path, fd.Kind())
}

func (d *protoDecoder) enum(n *yaml.Node, path string, ed protoreflect.EnumDescriptor) any {
	if ed.FullName() == "google.protobuf.NullValue" {
		return nil
	}
	if n.Kind == yaml.ScalarNode {
		if n.Tag == "!!int" {
			if i, err := strconv.ParseInt(n.Value, 10, 32); err == nil && ed.Values().ByNumber(protoreflect.EnumNumber(i)) != nil {
				return string(ed.Values().ByNumber(protoreflect.EnumNumber(i)).Name())
			}
		} else if ed.Values().ByName(protoreflect.Name(n.Value)) != nil {
			return n.Value
		}
	}
	names := make([]string, ed.Values().Len())
	for i := range names {
		names[i] = string(ed.Values().Get(i).Name())
	}
	d.fail(n, path, "unknown value %q (one of %s)", n.Value, strings.Join(names, ", "))
	return nil
}

func (d *protoDecoder) scalar(n *yaml.Node, path string, kind protoreflect.Kind) any {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "expected a %s, got %s", kindWord(kind), describe(n))
		return nil
	}
	switch kind {
	case protoreflect.StringKind:
		if n.Tag != "!!str" {
			d.fail(n, path, "expected a string, got %s (quote it: \"%s\")", describe(n), n.Value)
			return nil
		}
		return n.Value
	case protoreflect.BytesKind:
		if _, err := base64.StdEncoding.DecodeString(n.Value); err != nil {
			d.fail(n, path, "expected base64 data: %v", err)
			return nil
		}
		return n.Value
	case protoreflect.BoolKind:
		if n.Tag != "!!bool" {
			d.fail(n, path, "expected true or false, got %s", describe(n))
			return nil
		}
		return n.Value == "true"
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		if n.Tag != "!!int" && n.Tag != "!!float" {
			d.fail(n, path, "expected a number, got %s", describe(n))
			return nil
		}
		f, err := strconv.ParseFloat(n.Value, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			d.fail(n, path, "invalid number %q", n.Value)
			return nil
		}
		return f
	}
	// Integer kinds.
	if n.Tag != "!!int" && !(n.Tag == "!!str" && is64(kind)) {
		d.fail(n, path, "expected an integer, got %s", describe(n))
		return nil
	}
	bits, signed := intRange(kind)
	if signed {
		i, err := strconv.ParseInt(n.Value, 0, bits)
		if err != nil {
			d.fail(n, path, "integer %s out of range for %s", n.Value, kindWord(kind))
			return nil
		}
		return json.Number(strconv.FormatInt(i, 10))
	}
	u, err := strconv.ParseUint(n.Value, 0, bits)
	if err != nil {
		d.fail(n, path, "%s must be a non-negative integer that fits %d bits", n.Value, bits)
		return nil
	}
	return json.Number(strconv.FormatUint(u, 10))
}

func is64(k protoreflect.Kind) bool {
	switch k {
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return true
	}
	return false
}

func intRange(k protoreflect.Kind) (bits int, signed bool) {
	switch k {
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return 32, true
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return 32, false
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return 64, false
	}
	return 64, true
}

func kindWord(k protoreflect.Kind) string {
	switch k {
	case protoreflect.StringKind:
		return "string"
	case protoreflect.BoolKind:
		return "boolean"
	case protoreflect.BytesKind:
		return "base64 string"
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return "number"
	}
	bits, signed := intRange(k)
	if signed {
		return fmt.Sprintf("%d-bit integer", bits)
	}
	return fmt.Sprintf("unsigned %d-bit integer", bits)
}

// wellKnown handles the google.protobuf types whose JSON form is not a plain object.
func (d *protoDecoder) wellKnown(n *yaml.Node, path string, md protoreflect.MessageDescriptor) (any, bool) {
	switch md.FullName() {
	case "google.protobuf.Duration":
		if n.Kind != yaml.ScalarNode || n.Tag == "!!bool" {
			d.fail(n, path, "expected a duration such as 5s or 100ms, got %s", describe(n))
			return nil, true
		}
		dur, err := parseProtoDuration(n.Value)
		if err != nil {
			d.fail(n, path, "%v", err)
			return nil, true
		}
		return formatProtoDuration(dur), true
	case "google.protobuf.Timestamp":
		if _, err := time.Parse(time.RFC3339Nano, n.Value); n.Kind != yaml.ScalarNode || err != nil {
			d.fail(n, path, "expected an RFC 3339 timestamp, got %s", describe(n))
			return nil, true
		}
		return n.Value, true
	case "google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue":
		var v any
		if err := n.Decode(&v); err != nil {
			d.fail(n, path, "%v", err)
			return nil, true
		}
		return jsonCompatible(v), true
	case "google.protobuf.Empty":
		return map[string]any{}, true
	case "google.protobuf.DoubleValue", "google.protobuf.FloatValue", "google.protobuf.Int64Value",
		"google.protobuf.UInt64Value", "google.protobuf.Int32Value", "google.protobuf.UInt32Value",
		"google.protobuf.BoolValue", "google.protobuf.StringValue", "google.protobuf.BytesValue":
		return d.scalar(n, path, md.Fields().ByName("value").Kind()), true
	}
	return nil, false
}

// parseProtoDuration accepts what Istio users write: Go durations ("1m30s", "100ms") as well as
// protojson's decimal seconds ("1.5s").
func parseProtoDuration(s string) (time.Duration, error) {
	dur, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (want e.g. 5s, 100ms, 1m)", s)
	}
	return dur, nil
}

func formatProtoDuration(d time.Duration) string {
	neg := d < 0
	if neg {
		d = -d
	}
	s := strconv.FormatInt(int64(d/time.Second), 10)
	if ns := int64(d % time.Second); ns != 0 {
		s += "." + strings.TrimRight(fmt.Sprintf("%09d", ns), "0")
	}
	if neg {
		s = "-" + s
	}
	return s + "s"
}

// jsonCompatible turns yaml.v3's decoded values into values encoding/json can write.
func jsonCompatible(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = jsonCompatible(e)
		}
		return t
	case map[any]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[fmt.Sprint(k)] = jsonCompatible(e)
		}
		return out
	case []any:
		out := slices.Clone(t)
		for i, e := range out {
			out[i] = jsonCompatible(e)
		}
		return out
	}
	return v
}
