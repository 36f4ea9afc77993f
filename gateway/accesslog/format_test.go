package accesslog

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

var start = time.Date(2026, 11, 22, 5, 40, 1, 234567890, time.UTC)

// representative are the entries the golden files pin: a proxied request, a local reply with
// no route, an upstream failure after retries, a hostile client, and a TCP passthrough.
var representative = []struct {
	name  string
	entry Entry
}{
	{"proxied", Entry{
		StartTime: start, Method: "GET", Path: "/productpage?x=1", Protocol: ProtocolName(1, 1),
		ResponseCode: 200, ResponseCodeDetails: "via_upstream",
		BytesReceived: 0, BytesSent: 5293, Duration: 27*time.Millisecond + 900*time.Microsecond,
		UpstreamServiceTime: 25 * time.Millisecond, HasUpstreamServiceTime: true,
		XForwardedFor: "203.0.113.7", UserAgent: "curl/8.5.0",
		RequestID: "3f1c9a2e-8d4b-4c1a-9f3e-2b7d6a5c4e10", Authority: "bookinfo.example.com",
		UpstreamHost:            netip.MustParseAddrPort("10.0.0.12:9080"),
		UpstreamCluster:         ClusterName(9080, "v2", "productpage.default.svc.cluster.local"),
		UpstreamLocalAddress:    netip.MustParseAddrPort("10.0.0.5:43210"),
		DownstreamLocalAddress:  netip.MustParseAddrPort("[::ffff:10.0.0.5]:8443"),
		DownstreamRemoteAddress: netip.MustParseAddrPort("203.0.113.7:51234"),
		RequestedServerName:     "bookinfo.example.com", RouteName: "productpage-v2",
	}},
	{"no_route", Entry{
		StartTime: start, Method: "POST", Path: "/nowhere", Protocol: ProtocolName(2, 0),
		ResponseCode: 404, ResponseFlags: NoRouteFound, ResponseCodeDetails: "route_not_found",
		BytesReceived: 12, Duration: 0, UserAgent: "grpc-go/1.85.0",
		RequestID: "7e0d1b2c-0000-4000-8000-000000000001", Authority: "unknown.example.com",
		DownstreamLocalAddress:  netip.MustParseAddrPort("[::1]:8080"),
		DownstreamRemoteAddress: netip.MustParseAddrPort("[::1]:60000"),
	}},
	{"upstream_failure", Entry{
		StartTime: start, Method: "GET", Path: "/status/503", Protocol: ProtocolName(1, 1),
		ResponseCode: 503, ResponseFlags: UpstreamRetryLimitExceeded | UpstreamConnectionFailure,
		ResponseCodeDetails:            "upstream_reset_before_response_started{connection_failure}",
		UpstreamTransportFailureReason: "delayed connect error: 111",
		BytesSent:                      91, Duration: 1500 * time.Millisecond,
		RequestID: "7e0d1b2c-0000-4000-8000-000000000002", Authority: "httpbin.example.com",
		UpstreamHost:            netip.MustParseAddrPort("127.0.0.1:9999"),
		UpstreamCluster:         ClusterName(8000, "", "httpbin.default.svc.cluster.local"),
		DownstreamLocalAddress:  netip.MustParseAddrPort("127.0.0.1:8080"),
		DownstreamRemoteAddress: netip.MustParseAddrPort("127.0.0.1:40000"),
		RouteName:               "default",
	}},
	{"hostile", Entry{
		StartTime: start, Method: "GET", Path: "/a\"b\\c", Protocol: ProtocolName(1, 1),
		ResponseCode: 403, ResponseFlags: UnauthorizedExternalService,
		ResponseCodeDetails: "ext_authz_denied",
		UserAgent:           "evil\" \"x\r\n[2026-01-01T00:00:00.000Z] \"GET / HTTP/1.1\" 200\x00\x7f\xff\xfe\u2028",
		XForwardedFor:       "1.2.3.4\t, 5.6.7.8",
		RequestID:           "7e0d1b2c-0000-4000-8000-000000000003", Authority: "app.example.com",
		DownstreamRemoteAddress: netip.MustParseAddrPort("192.0.2.1:1"),
	}},
	{"tcp_passthrough", Entry{
		StartTime: start, ResponseFlags: DownstreamConnectionTermination,
		BytesReceived: 517, BytesSent: 4096, Duration: 3 * time.Second,
		UpstreamHost:            netip.MustParseAddrPort("198.51.100.20:443"),
		UpstreamCluster:         ClusterName(443, "", "*.wikipedia.org"),
		DownstreamLocalAddress:  netip.MustParseAddrPort("127.0.0.1:443"),
		DownstreamRemoteAddress: netip.MustParseAddrPort("127.0.0.1:50000"),
		RequestedServerName:     "en.wikipedia.org",
	}},
	{"empty", Entry{}},
}

func TestGolden(t *testing.T) {
	t.Parallel()
	for _, enc := range []struct {
		file   string
		format func([]byte, *Entry) []byte
	}{
		{"text.golden", Format},
		{"json.golden", FormatJSON},
	} {
		t.Run(enc.file, func(t *testing.T) {
			t.Parallel()
			var got []byte
			for _, tc := range representative {
				got = append(got, "# "+tc.name+"\n"...)
				got = enc.format(got, &tc.entry)
			}
			path := filepath.Join("testdata", enc.file)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the formatter's output:\n got:\n%s\nwant:\n%s", path, got, want)
			}
		})
	}
}

func TestOneLinePerEntry(t *testing.T) {
	t.Parallel()
	for _, tc := range representative {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for name, line := range map[string][]byte{
				"text": Format(nil, &tc.entry),
				"json": FormatJSON(nil, &tc.entry),
			} {
				if n := bytes.Count(line, []byte("\n")); n != 1 || line[len(line)-1] != '\n' {
					t.Errorf("%s: want exactly one trailing newline, got %d in %q", name, n, line)
				}
				if bytes.ContainsAny(line[:len(line)-1], "\r\x00\x7f") {
					t.Errorf("%s: raw control byte in %q", name, line)
				}
			}
		})
	}
}

func TestTextFieldCount(t *testing.T) {
	t.Parallel()
	// Istio's format quotes seven groups; escaping keeps exactly those quotes whatever the
	// values are, so parsers that split on '"' keep working on hostile lines too.
	for _, tc := range representative {
		line := string(Format(nil, &tc.entry))
		if got := strings.Count(line, `"`); got != 14 {
			t.Errorf("%s: %d quotes in %q, want 14 (7 quoted groups)", tc.name, got, line)
		}
	}
}

func TestJSONValid(t *testing.T) {
	t.Parallel()
	for _, tc := range representative {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			line := FormatJSON(nil, &tc.entry)
			if !json.Valid(line) {
				t.Fatalf("invalid JSON: %q", line)
			}
			var m map[string]any
			if err := json.Unmarshal(line, &m); err != nil {
				t.Fatal(err)
			}
			if len(m) != 24 {
				t.Errorf("%d keys, want Istio's 24: %v", len(m), m)
			}
			for key, want := range map[string]string{
				"method": tc.entry.Method, "path": tc.entry.Path, "user_agent": tc.entry.UserAgent,
				"x_forwarded_for": tc.entry.XForwardedFor, "route_name": tc.entry.RouteName,
			} {
				got, _ := m[key].(string)
				if want == "" {
					if m[key] != nil {
						t.Errorf("%s = %v, want null", key, m[key])
					}
					continue
				}
				if !strings.ContainsRune(want, '\uFFFD') && strings.ToValidUTF8(want, "\uFFFD") != got {
					t.Errorf("%s round-trips as %q, want %q", key, got, strings.ToValidUTF8(want, "\uFFFD"))
				}
			}
		})
	}
}

func TestJSONEscaping(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{`plain`, `"plain"`},
		{`q"uote`, `"q\"uote"`},
		{`back\slash`, `"back\\slash"`},
		{"nl\n cr\r tab\t nul\x00 esc\x1b del\x7f", `"nl\n cr\r tab\t nul\u0000 esc\u001b del\u007f"`},
		{"bad\xff\xfeutf8", `"bad\ufffd\ufffdutf8"`},
		{"trunc\xe2\x82", `"trunc\ufffd\ufffd"`},
		{"ok \u00e9\u4e16 \U0001F600", "\"ok \u00e9\u4e16 \U0001F600\""},
		{"ls\u2028ps\u2029", `"ls\u2028ps\u2029"`},
	}
	for _, tc := range tests {
		got := string(appendJSONString(nil, tc.in))
		if got != tc.want {
			t.Errorf("appendJSONString(%q) = %s, want %s", tc.in, got, tc.want)
		}
		if !json.Valid([]byte(got)) {
			t.Errorf("appendJSONString(%q) = %s is not valid JSON", tc.in, got)
		}
	}
}

func TestProtocolName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		major, minor int
		want         string
	}{{1, 0, "HTTP/1.0"}, {1, 1, "HTTP/1.1"}, {2, 0, "HTTP/2"}, {3, 0, "HTTP/3"}, {0, 9, ""}}
	for _, tc := range tests {
		if got := ProtocolName(tc.major, tc.minor); got != tc.want {
			t.Errorf("ProtocolName(%d, %d) = %q, want %q", tc.major, tc.minor, got, tc.want)
		}
	}
}

func TestClusterName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		port         uint32
		subset, host string
		want         string
	}{
		{9080, "v1", "reviews.default.svc.cluster.local", "outbound|9080|v1|reviews.default.svc.cluster.local"},
		{443, "", "*.wikipedia.org", "outbound|443||*.wikipedia.org"},
		{80, "", "httpbin.org", "outbound|80||httpbin.org"},
	}
	for _, tc := range tests {
		if got := ClusterName(tc.port, tc.subset, tc.host); got != tc.want {
			t.Errorf("ClusterName(%d, %q, %q) = %q, want %q", tc.port, tc.subset, tc.host, got, tc.want)
		}
	}
}

// TestFormatAllocs is not parallel: AllocsPerRun counts every goroutine's allocations.
func TestFormatAllocs(t *testing.T) {
	e := &representative[0].entry
	buf := make([]byte, 0, 2048)
	for name, format := range map[string]func([]byte, *Entry) []byte{"text": Format, "json": FormatJSON} {
		if n := testing.AllocsPerRun(100, func() { buf = format(buf[:0], e) }); n != 0 {
			t.Errorf("%s: %v allocs per entry, want 0", name, n)
		}
	}
}

func BenchmarkFormat(b *testing.B) {
	e := &representative[0].entry
	buf := make([]byte, 0, 2048)
	b.ReportAllocs()
	for b.Loop() {
		buf = Format(buf[:0], e)
	}
}

func BenchmarkFormatJSON(b *testing.B) {
	e := &representative[0].entry
	buf := make([]byte, 0, 2048)
	b.ReportAllocs()
	for b.Loop() {
		buf = FormatJSON(buf[:0], e)
	}
}

func TestTextEscaping(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"", "-"},
		{"plain /path?q=1", "plain /path?q=1"},
		{`q"uote`, `q\x22uote`},
		{"nl\n cr\r tab\t nul\x00 del\x7f", `nl\x0a cr\x0d tab\x09 nul\x00 del\x7f`},
		{"bad\xff\xfeutf8", `bad\xff\xfeutf8`},
		{"ok \u00e9\u4e16 \U0001F600", "ok \u00e9\u4e16 \U0001F600"},
		{`back\slash`, `back\slash`},
	}
	for _, tc := range tests {
		if got := string(appendText(nil, tc.in)); got != tc.want {
			t.Errorf("appendText(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestStartTime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   time.Time
		want string
	}{
		{start, "2026-11-22T05:40:01.234Z"},
		{time.Date(2016, 4, 15, 20, 17, 0, 310_999_999, time.UTC), "2016-04-15T20:17:00.310Z"},
		{time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.FixedZone("X", -7*3600)), "2026-01-02T10:04:05.006Z"},
		{time.Date(999, 12, 31, 23, 59, 59, 999_999_999, time.UTC), "0999-12-31T23:59:59.999Z"},
		{time.Date(12345, 1, 1, 0, 0, 0, 0, time.UTC), "12345-01-01T00:00:00.000Z"},
	}
	for _, tc := range tests {
		if got := string(appendStartTime(nil, tc.in)); got != tc.want {
			t.Errorf("appendStartTime(%v) = %s, want %s", tc.in, got, tc.want)
		}
		// The layout must agree with the standard library's rendering of Envoy's format.
		if tc.in.Year() < 10000 {
			if std := tc.in.UTC().Format("2006-01-02T15:04:05.000Z"); std != tc.want {
				t.Errorf("time.Format = %s, want %s", std, tc.want)
			}
		}
	}
}

func FuzzFormat(f *testing.F) {
	f.Add("GET", "/a/../b", "curl/8.5.0", "1.2.3.4")
	f.Add("GET", "/\x00\n\r", "\"quoted\" \xff\xfe", "\u2028")
	f.Fuzz(func(t *testing.T, method, path, userAgent, xff string) {
		e := Entry{StartTime: start, Method: method, Path: path, UserAgent: userAgent, XForwardedFor: xff}
		line := FormatJSON(nil, &e)
		if !json.Valid(line) {
			t.Fatalf("invalid JSON: %q", line)
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatal(err)
		}
		if got, _ := m["path"].(string); path != "" && utf8.ValidString(path) && got != path {
			t.Fatalf("path %q round-tripped as %q", path, got)
		}
		text := Format(nil, &e)
		if bytes.IndexByte(text, '\n') != len(text)-1 {
			t.Fatalf("text line is not one line: %q", text)
		}
		if !utf8.Valid(text) || strings.Count(string(text), `"`) != 14 {
			t.Fatalf("text line can be split wrongly: %q", text)
		}
	})
}
