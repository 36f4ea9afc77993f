package validation

import (
	"testing"
)

func TestValidatePortNumber(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		port uint32
		ok   bool
	}{{1, true}, {443, true}, {65535, true}, {0, false}, {65536, false}} {
		var want []wantFinding
		if !tc.ok {
			want = []wantFinding{wantErr("p", "must be in the range 1..65535")}
		}
		checkHelper(t, func(r *report) { validatePortNumber("p", tc.port, r) }, want)
	}
}

func TestParseProtocol(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		want          protocol
		http, tls, l4 bool
	}{
		{"http", protoHTTP, true, false, false},
		{"HTTP2", protoHTTP2, true, false, false},
		{"grpc-web", protoGRPCWeb, true, false, false},
		{"HTTPS", protoHTTPS, false, true, true},
		{"tls", protoTLS, false, true, true},
		{"TCP", protoTCP, false, false, true},
		{"Mongo", protoMongo, false, false, true},
		{"UDP", protoUDP, false, false, false},
		{"", protoUnsupported, false, false, false},
		{"QUIC", protoUnsupported, false, false, false},
	} {
		p := parseProtocol(tc.name)
		if p != tc.want || p.isHTTP() != tc.http || p.isTLS() != tc.tls || p.isTCP() != tc.l4 {
			t.Errorf("parseProtocol(%q) = %q (http %v, tls %v, tcp %v), want %q (%v, %v, %v)",
				tc.name, p, p.isHTTP(), p.isTLS(), p.isTCP(), tc.want, tc.http, tc.tls, tc.l4)
		}
	}
}

func TestValidatePortName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		ok   bool
	}{{"http", true}, {"http-8080", true}, {"", false}, {"http_1", false}, {"-a", false}} {
		var want []wantFinding
		if !tc.ok {
			want = []wantFinding{wantErr("n", "invalid port name")}
		}
		checkHelper(t, func(r *report) { validatePortName("n", tc.name, r) }, want)
	}
}
