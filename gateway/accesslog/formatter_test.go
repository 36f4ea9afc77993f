package accesslog

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// TestDefaultFormattersMatchHandWritten pins the compiled Istio formats to the hand-written
// ones (and so to the golden files) for every representative entry: the gateway keeps the
// hand-written ones for speed, so the two must never drift.
func TestDefaultFormattersMatchHandWritten(t *testing.T) {
	t.Parallel()
	for _, tc := range representative {
		for _, enc := range []struct {
			name string
			hand func([]byte, *Entry) []byte
			f    *Formatter
		}{{"text", Format, DefaultFormatter(Text)}, {"json", FormatJSON, DefaultFormatter(JSON)}} {
			want := enc.hand(nil, &tc.entry)
			got := enc.f.Append(nil, &tc.entry)
			if !bytes.Equal(got, want) {
				t.Errorf("%s/%s:\n got %s\nwant %s", tc.name, enc.name, got, want)
			}
		}
	}
}

// custom is an entry with what only custom formats print.
func custom() *Entry {
	e := representative[0].entry
	e.RequestHeaders = http.Header{"X-Tenant": {"acme", "other"}, "X-Quote": {`a"b` + "\n"}}
	e.ResponseHeaders = http.Header{
		"Content-Type": {"application/grpc"}, "Trailer": {"Grpc-Message, Grpc-Status"},
		"Grpc-Status": {"5"}, "Grpc-Message": {"no such thing"},
	}
	e.Scheme = "https"
	e.ResponseDuration = 26 * time.Millisecond
	e.DownstreamDirectRemoteAddress = netip.MustParseAddrPort("10.1.1.1:40000")
	e.TLSVersion = 0x0304
	e.PeerCertificate = &x509.Certificate{URIs: []*url.URL{{Scheme: "spiffe", Host: "cluster.local", Path: "/ns/default/sa/client"}}}
	return &e
}

func TestCompileText(t *testing.T) {
	t.Setenv("GATEHOUSE_TEST_ENV", "env-value")
	tests := []struct {
		name, format, want string
		warnings           int
	}{
		{"literal only", "hello", "hello\n", 0},
		{"newline kept", "a %PROTOCOL%\n", "a HTTP/1.1\n", 0},
		{"istio default", IstioTextFormat, string(Format(nil, custom())), 0},
		{"request header", "%REQ(x-tenant)% %REQ(X-MISSING)%", "acme -", 0},
		{"alternative", "%REQ(X-MISSING?X-TENANT)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%", "acme /productpage?x=1", 0},
		{"escaped header", "%REQ(X-QUOTE)%", `a\x22b\x0a`, 0},
		{"max length", "%REQ(:AUTHORITY):8% %UPSTREAM_HOST:4% %RESPONSE_CODE:1%", "bookinfo 10.0 2", 0},
		{"without query", "%REQ_WITHOUT_QUERY(:PATH)% %PATH(NQ)% %PATH%", "/productpage /productpage /productpage?x=1", 0},
		{"request line", "%METHOD% %REQ(:SCHEME)% %REQ(HOST)%", "GET https bookinfo.example.com", 0},
		{"response header and trailer", "%RESP(CONTENT-TYPE)% %TRAILER(GRPC-MESSAGE)% %RESPONSE_TRAILER(X-NONE)%", "application/grpc no such thing -", 0},
		{"grpc status", "%GRPC_STATUS% %GRPC_STATUS(SNAKE_STRING)% %GRPC_STATUS(NUMBER)%", "NotFound NOT_FOUND 5", 0},
		{"durations", "%DURATION% %RESPONSE_DURATION% %RESPONSE_TX_DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%", "27 26 1 25", 0},
		{"addresses", "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT% %DOWNSTREAM_LOCAL_PORT% %DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT% %DOWNSTREAM_DIRECT_REMOTE_ADDRESS% %UPSTREAM_REMOTE_PORT%", "203.0.113.7 8443 10.0.0.5 10.1.1.1:40000 9080", 0},
		{"tls", "%DOWNSTREAM_TLS_VERSION% %DOWNSTREAM_PEER_URI_SAN% %REQUESTED_SERVER_NAME%", "TLSv1.3 spiffe://cluster.local/ns/default/sa/client bookinfo.example.com", 0},
		{"start time layouts", "%START_TIME(%Y-%m-%dT%H:%M:%S.%3fZ)% %START_TIME(%s)% %START_TIME(%F %T.%6f %z)% %START_TIME(%f)%",
			"2026-11-22T05:40:01.234Z 1795326001 2026-11-22 05:40:01.234567 +0000 234567890", 0},
		{"start time words", "%START_TIME(%a %d %b %Y %I%p %j %%)%", "Sun 22 Nov 2026 05AM 326 %", 0},
		{"config-time values", "%ENVIRONMENT(GATEHOUSE_TEST_ENV)% %ENVIRONMENT(GATEHOUSE_TEST_UNSET)%", "env-value -", 0},
		{"accepted without value", "%REQUEST_DURATION% %UPSTREAM_REQUEST_ATTEMPT_COUNT% %DOWNSTREAM_LOCAL_URI_SAN%", "- - -", 0},
		{"percent escape", "100%% %RESPONSE_CODE%", "100% 200", 0},
		{"unknown operator", "%NOPE% %RESPONSE_CODE%", "- 200", 1},
		{"unsupported operator", "%DYNAMIC_METADATA(istio.mixer:status)%", "-", 1},
		{"missing argument", "%REQ% %REQ()%", "- -", 2},
		{"stray percent", "50% done %RESPONSE_CODE%", "50% done 200", 1},
		{"unclosed argument", "%REQ(X-TENANT %PROTOCOL%", "%REQ(X-TENANT HTTP/1.1", 1},
		{"unclosed operator", "%RESPONSE_CODE", "%RESPONSE_CODE", 1},
		{"bad length", "%REQ(X-TENANT):0% %REQ(X-TENANT):x%", "%REQ(X-TENANT):0% %REQ(X-TENANT):x%", 4},
		{"unknown time conversion", "%START_TIME(%Q)%", "%Q", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, warnings := Compile(tc.format, Text)
			if len(warnings) != tc.warnings {
				t.Errorf("warnings %q, want %d", warnings, tc.warnings)
			}
			got := string(f.Append(nil, custom()))
			want := tc.want
			if !strings.HasSuffix(want, "\n") {
				want += "\n"
			}
			if got != want {
				t.Errorf("Compile(%q):\n got %q\nwant %q", tc.format, got, want)
			}
		})
	}
}

func TestCompileWarningsSayWhere(t *testing.T) {
	t.Parallel()
	_, warnings := Compile("[%START_TIME%] %FOO%", Text)
	if len(warnings) != 1 || warnings[0] != "position 15: unknown command operator %FOO%; it prints -" {
		t.Errorf("warnings %q", warnings)
	}
	_, warnings = Compile(`{"a":{"b":"%BAR%"}}`, JSON)
	if len(warnings) != 1 || !strings.HasPrefix(warnings[0], "a.b: position 0: unknown command operator %BAR%") {
		t.Errorf("warnings %q", warnings)
	}
}

func TestCompileJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, format, want string
		warnings           int
	}{
		{"typed values", `{"code":"%RESPONSE_CODE%","bytes":"%BYTES_SENT%","port":"%DOWNSTREAM_LOCAL_PORT%","ust":"%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%","method":"%REQ(:METHOD)%","none":"%REQ(X-NONE)%","grpc":"%GRPC_STATUS(NUMBER)%"}`,
			`{"code":200,"bytes":5293,"port":8443,"ust":"25","method":"GET","none":null,"grpc":5}`, 0},
		{"mixed strings", `{"line":"%REQ(:METHOD)% %REQ(X-NONE)% \"%REQ(X-QUOTE)%\"","code":"code=%RESPONSE_CODE%"}`,
			`{"line":"GET - \"a\"b\n\"","code":"code=200"}`, 0},
		{"order and literals kept", `{"z":1,"a":true,"m":null,"s":"plain","n":-1.5e3,"l":["%PROTOCOL%",2]}`,
			`{"z":1,"a":true,"m":null,"s":"plain","n":-1.5e3,"l":["HTTP/1.1",2]}`, 0},
		{"nested", `{"req":{"id":"%REQ(X-REQUEST-ID)%","t":"%START_TIME(%s)%"},"k\"ey":"%ROUTE_NAME%"}`,
			`{"req":{"id":"3f1c9a2e-8d4b-4c1a-9f3e-2b7d6a5c4e10","t":"1795326001"},"k\"ey":"productpage-v2"}`, 0},
		{"length limit makes a string", `{"code":"%RESPONSE_CODE:2%","sni":"%REQUESTED_SERVER_NAME:4%"}`, `{"code":"20","sni":"book"}`, 0},
		{"unknown operator is null", `{"x":"%NOPE%","y":"a%NOPE%"}`, `{"x":null,"y":"a-"}`, 2},
		{"not json: Istio's default", `[%START_TIME%] %PROTOCOL%`, strings.TrimSuffix(string(FormatJSON(nil, custom())), "\n"), 1},
		{"not an object", `["%PROTOCOL%"]`, strings.TrimSuffix(string(FormatJSON(nil, custom())), "\n"), 1},
		{"trailing text", `{"a":1} x`, strings.TrimSuffix(string(FormatJSON(nil, custom())), "\n"), 1},
		{"empty: Istio's default", ``, strings.TrimSuffix(string(FormatJSON(nil, custom())), "\n"), 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, warnings := Compile(tc.format, JSON)
			if len(warnings) != tc.warnings {
				t.Errorf("warnings %q, want %d", warnings, tc.warnings)
			}
			got := string(f.Append(nil, custom()))
			if got != tc.want+"\n" {
				t.Errorf("Compile(%s):\n got %s\nwant %s", tc.format, got, tc.want)
			}
			if !json.Valid([]byte(got)) {
				t.Errorf("invalid JSON %s", got)
			}
		})
	}
}

// TestFormatterAllocs is not parallel: AllocsPerRun counts every goroutine's allocations.
func TestFormatterAllocs(t *testing.T) {
	e := custom()
	buf := make([]byte, 0, 4096)
	for _, tc := range []struct {
		format string
		enc    Encoding
	}{
		{"[%START_TIME(%Y-%m-%dT%H:%M:%S.%3fZ)%] %REQ(X-TENANT)% %RESP(CONTENT-TYPE)% %TRAILER(GRPC-STATUS)% %GRPC_STATUS% %DOWNSTREAM_PEER_URI_SAN% %DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT% %REQ_WITHOUT_QUERY(:PATH)%", Text},
		{`{"t":"%START_TIME%","h":"%REQ(X-TENANT)%","m":"x %REQ(X-QUOTE)% y","c":"%RESPONSE_CODE%","san":"%DOWNSTREAM_PEER_URI_SAN%"}`, JSON},
		{IstioTextFormat, Text},
		{IstioJSONFormat, JSON},
	} {
		f, _ := Compile(tc.format, tc.enc)
		if n := testing.AllocsPerRun(100, func() { buf = f.Append(buf[:0], e) }); n != 0 {
			t.Errorf("%.40s: %v allocs per entry, want 0", tc.format, n)
		}
	}
}

// FuzzCompiledJSON: whatever the header values and whatever format string a user wrote, a
// JSON line is valid JSON and one line.
func FuzzCompiledJSON(f *testing.F) {
	f.Add("%REQ(X-A)% and %REQ(X-B)%", "v\"al\n", "\xff\xfe\u2028")
	f.Add("%REQ(X-A):3%", "\xe2\x82\xac\xe2\x82\xac", "")
	f.Add("%START_TIME(\"%Y\x01)% %NOPE% 50%", "\x00", "\\")
	f.Fuzz(func(t *testing.T, format, a, b string) {
		doc, err := json.Marshal(map[string]string{"one": "%REQ(X-A)%", "mixed": format, "b": "%REQ(X-B)%"})
		if err != nil {
			t.Skip()
		}
		fm, _ := Compile(string(doc), JSON)
		e := custom()
		e.RequestHeaders = http.Header{"X-A": {a}, "X-B": {b}}
		e.UserAgent = a
		line := fm.Append(nil, e)
		if !json.Valid(line) || bytes.IndexByte(line, '\n') != len(line)-1 {
			t.Fatalf("format %q: invalid line %q", format, line)
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatal(err)
		}
		if a != "" && utf8.ValidString(a) && m["one"] != a {
			t.Fatalf("header %q round-tripped as %q", a, m["one"])
		}
		text, _ := Compile(format, Text)
		if tl := text.Append(nil, e); !bytes.HasSuffix(tl, []byte("\n")) {
			t.Fatalf("text line %q has no newline", tl)
		}
	})
}

func BenchmarkFormatter(b *testing.B) {
	e := &representative[0].entry
	for _, enc := range []Encoding{Text, JSON} {
		f := DefaultFormatter(enc)
		name := map[Encoding]string{Text: "text", JSON: "json"}[enc]
		b.Run(name, func(b *testing.B) {
			buf := make([]byte, 0, 2048)
			b.ReportAllocs()
			for b.Loop() {
				buf = f.Append(buf[:0], e)
			}
		})
	}
}
