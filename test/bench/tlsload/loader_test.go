package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestLoaderCountsOnlyFullTLS13Handshakes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		maxVersion uint16
		wantErr    string // "" when every handshake must succeed
	}{
		{"TLS 1.3 server", tls.VersionTLS13, ""},
		{"TLS 1.2 only server", tls.VersionTLS12, "protocol version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewUnstartedServer(http.NotFoundHandler())
			srv.TLS = &tls.Config{MaxVersion: tt.maxVersion}
			srv.StartTLS()
			t.Cleanup(srv.Close)
			roots := x509.NewCertPool()
			roots.AddCert(srv.Certificate())
			cfg := &tls.Config{ServerName: "example.com", RootCAs: roots, MinVersion: tls.VersionTLS13,
				MaxVersion: tls.VersionTLS13, CurvePreferences: []tls.CurveID{tls.X25519}}
			l := loader{addr: srv.Listener.Addr().String(), cfg: cfg, workers: 2, timeout: 5 * time.Second}

			res := l.run(context.Background(), 200*time.Millisecond)
			if tt.wantErr == "" {
				if res.errors != 0 || len(res.latencies) == 0 {
					t.Fatalf("%d handshakes, %d failed (first: %v)", len(res.latencies), res.errors, res.firstErr)
				}
				return
			}
			if len(res.latencies) != 0 || res.errors == 0 || !strings.Contains(res.firstErr.Error(), tt.wantErr) {
				t.Fatalf("%d handshakes counted, %d failed (first: %v), want only failures with %q",
					len(res.latencies), res.errors, res.firstErr, tt.wantErr)
			}
		})
	}
}
