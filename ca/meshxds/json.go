package meshxds

import (
	"bytes"
	"encoding/json"
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// JSON renders an Envoy config message as Envoy reads it (proto3 JSON, field names as in the
// .proto files), indented, with object keys sorted. protojson alone is deliberately unstable
// in its whitespace; going through encoding/json makes the bytes a function of the message, so
// golden files and diffs stay meaningful.
func JSON(m proto.Message) ([]byte, error) {
	raw, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m.ProtoReflect().Descriptor().FullName(), err)
	}
	return normalizeJSON(raw)
}

// normalizeJSON re-encodes JSON with sorted keys and two-space indent, keeping numbers as
// written.
func normalizeJSON(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}
