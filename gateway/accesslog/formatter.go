package accesslog

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// IstioTextFormat is the text format istiod gives Envoy when accessLogFormat is empty.
const IstioTextFormat = `[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" ` +
	`%RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% ` +
	`"%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% %DURATION% ` +
	`%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" ` +
	`"%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER_RAW% ` +
	`%UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% ` +
	`%REQUESTED_SERVER_NAME% %ROUTE_NAME%` + "\n"

// IstioJSONFormat is the JSON format istiod gives Envoy when accessLogEncoding is JSON and
// accessLogFormat is empty, keys in the order of the text format.
const IstioJSONFormat = `{"start_time":"%START_TIME%","method":"%REQ(:METHOD)%",` +
	`"path":"%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%","protocol":"%PROTOCOL%",` +
	`"response_code":"%RESPONSE_CODE%","response_flags":"%RESPONSE_FLAGS%",` +
	`"response_code_details":"%RESPONSE_CODE_DETAILS%",` +
	`"connection_termination_details":"%CONNECTION_TERMINATION_DETAILS%",` +
	`"upstream_transport_failure_reason":"%UPSTREAM_TRANSPORT_FAILURE_REASON%",` +
	`"bytes_received":"%BYTES_RECEIVED%","bytes_sent":"%BYTES_SENT%","duration":"%DURATION%",` +
	`"upstream_service_time":"%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%",` +
	`"x_forwarded_for":"%REQ(X-FORWARDED-FOR)%","user_agent":"%REQ(USER-AGENT)%",` +
	`"request_id":"%REQ(X-REQUEST-ID)%","authority":"%REQ(:AUTHORITY)%",` +
	`"upstream_host":"%UPSTREAM_HOST%","upstream_cluster":"%UPSTREAM_CLUSTER_RAW%",` +
	`"upstream_local_address":"%UPSTREAM_LOCAL_ADDRESS%",` +
	`"downstream_local_address":"%DOWNSTREAM_LOCAL_ADDRESS%",` +
	`"downstream_remote_address":"%DOWNSTREAM_REMOTE_ADDRESS%",` +
	`"requested_server_name":"%REQUESTED_SERVER_NAME%","route_name":"%ROUTE_NAME%"}`

// mode is where a value lands in the line, which decides its escaping and how a missing value
// looks.
type mode uint8

const (
	// modeText: a text line; values escaped by appendText, missing ones "-".
	modeText mode = iota
	// modeJSONString: part of a JSON string that mixes text and operators; missing ones "-".
	modeJSONString
	// modeJSONTyped: a JSON value that is exactly one operator, typed as Envoy types it:
	// numbers for counts, durations and ports, strings otherwise, null when missing.
	modeJSONTyped
)

// Formatter is a compiled access-log format. It is immutable and safe for concurrent use.
type Formatter struct {
	segs []segment
}

// Append appends e's line to b and returns the extended buffer. It does not allocate when b
// has room, whatever the format.
func (f *Formatter) Append(b []byte, e *Entry) []byte {
	for i := range f.segs {
		s := &f.segs[i]
		if s.op == opLiteral {
			// Most literals in a format are one separator byte; appending a byte skips the
			// memmove call a string append makes.
			if len(s.lit) == 1 {
				b = append(b, s.lit[0])
			} else {
				b = append(b, s.lit...)
			}
			continue
		}
		b = s.appendValue(b, e)
	}
	return b
}

var (
	defaultText = mustCompile(IstioTextFormat, Text)
	defaultJSON = mustCompile(IstioJSONFormat, JSON)
)

// DefaultFormatter is Istio's format for enc, as istiod configures Envoy with it.
func DefaultFormatter(enc Encoding) *Formatter {
	if enc == JSON {
		return defaultJSON
	}
	return defaultText
}

func mustCompile(format string, enc Encoding) *Formatter {
	f, warnings := Compile(format, enc)
	if len(warnings) > 0 {
		panic(fmt.Sprintf("accesslog: built-in format: %v", warnings))
	}
	return f
}

// Compile compiles MeshConfig accessLogFormat for accessLogEncoding enc, once, at config time.
// The warnings say what will not print as the author meant; the Formatter is usable whatever
// they say:
//   - empty format: Istio's default for enc;
//   - TEXT: an Envoy format string; a newline is added when it does not end with one, as
//     istiod does;
//   - JSON: a JSON object whose string values are format strings (istiod parses
//     accessLogFormat into a google.protobuf.Struct for Envoy's json_format). When it is not a
//     JSON object istiod logs an error and uses its default JSON format; so does Compile, with
//     a warning.
func Compile(format string, enc Encoding) (*Formatter, []string) {
	if format == "" {
		if enc == JSON {
			format = IstioJSONFormat
		} else {
			format = IstioTextFormat
		}
	}
	if enc == JSON {
		f, warnings, err := compileJSON(format)
		if err != nil {
			f, _, _ = compileJSON(IstioJSONFormat)
			return f, []string{"not a JSON object (" + err.Error() + "): Istio's default JSON format is used"}
		}
		return f, warnings
	}
	if !strings.HasSuffix(format, "\n") {
		format += "\n"
	}
	c := &compilation{}
	c.formatString(format, modeText)
	return c.finish(), c.warnings
}

// compilation gathers segments, merging adjacent literal text.
type compilation struct {
	segs     []segment
	warnings []string
}

func (c *compilation) literal(s string) {
	if s == "" {
		return
	}
	if n := len(c.segs); n > 0 && c.segs[n-1].op == opLiteral {
		c.segs[n-1].lit += s
		return
	}
	c.segs = append(c.segs, segment{op: opLiteral, lit: s})
}

func (c *compilation) add(s segment) {
	if s.op == opLiteral {
		c.literal(s.lit)
		return
	}
	c.segs = append(c.segs, s)
}

// formatString compiles an Envoy format string whose values land in m (modeText or
// modeJSONString; literal text is escaped for the latter).
func (c *compilation) formatString(f string, m mode) {
	items, warnings := parseFormat(f)
	c.warnings = append(c.warnings, warnings...)
	for _, it := range items {
		if it.name == "" {
			if m == modeJSONString {
				c.literal(string(appendJSONChars(nil, it.lit)))
			} else {
				c.literal(it.lit)
			}
			continue
		}
		s, w := compileItem(it, m)
		c.warnings = append(c.warnings, w...)
		c.add(s)
	}
}

func (c *compilation) finish() *Formatter {
	return &Formatter{segs: c.segs}
}

// compileJSON compiles a JSON format dictionary, keeping the keys in the order written. Envoy
// types a value that is exactly one operator (modeJSONTyped) and prints any other string value
// as a string; numbers, booleans and null are printed as written, objects and lists nest.
func compileJSON(format string) (*Formatter, []string, error) {
	dec := json.NewDecoder(strings.NewReader(format))
	dec.UseNumber()
	c := &compilation{}
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, nil, errors.New("it does not start with '{'")
	}
	if err := c.jsonObject(dec, ""); err != nil {
		return nil, nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, errors.New("text follows the object")
	}
	c.literal("\n")
	return c.finish(), c.warnings, nil
}

// jsonObject compiles the members of an object whose '{' was read; at is the key path, for
// warnings.
func (c *compilation) jsonObject(dec *json.Decoder, at string) error {
	c.literal("{")
	for first := true; ; first = false {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		if d, ok := tok.(json.Delim); ok && d == '}' {
			c.literal("}")
			return nil
		}
		key := tok.(string) // the decoder only yields strings or '}' here
		if !first {
			c.literal(",")
		}
		c.literal(string(appendJSONString(nil, key)) + ":")
		if err := c.jsonValue(dec, at+"."+key); err != nil {
			return err
		}
	}
}

func (c *compilation) jsonValue(dec *json.Decoder, at string) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch v := tok.(type) {
	case json.Delim:
		if v == '{' {
			return c.jsonObject(dec, at)
		}
		c.literal("[")
		for i := 0; dec.More(); i++ {
			if i > 0 {
				c.literal(",")
			}
			if err := c.jsonValue(dec, fmt.Sprintf("%s[%d]", at, i)); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return err
		}
		c.literal("]")
	case string:
		before := len(c.warnings)
		items, warnings := parseFormat(v)
		if len(warnings) == 0 && len(items) == 1 && items[0].name != "" {
			s, w := compileItem(items[0], modeJSONTyped)
			c.warnings = append(c.warnings, w...)
			c.add(s)
		} else {
			c.literal(`"`)
			c.formatString(v, modeJSONString)
			c.literal(`"`)
		}
		for i := before; i < len(c.warnings); i++ {
			c.warnings[i] = at[1:] + ": " + c.warnings[i]
		}
	case json.Number:
		c.literal(v.String())
	case bool:
		c.literal(fmt.Sprint(v))
	case nil:
		c.literal("null")
	}
	return nil
}
