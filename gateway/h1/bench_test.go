package h1

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkRoundTrip compares this transport with net/http's, configured as the gateway
// configures its pools, against one loopback server answering 1 KiB.
func BenchmarkRoundTrip(b *testing.B) {
	payload := strings.Repeat("x", 1024)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1024")
		_, _ = io.WriteString(w, payload)
	}))
	defer s.Close()
	for _, tc := range []struct {
		name string
		tr   interface {
			http.RoundTripper
			CloseIdleConnections()
		}
	}{
		{"h1", &Transport{MaxIdleConnsPerHost: 1024}},
		{"net-http", &http.Transport{MaxIdleConnsPerHost: 1024, DisableCompression: true}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			defer tc.tr.CloseIdleConnections()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				buf := make([]byte, 2048)
				for pb.Next() {
					req, _ := http.NewRequest(http.MethodGet, s.URL+"/1k", nil)
					req.Header["User-Agent"] = []string{""}
					res, err := tc.tr.RoundTrip(req)
					if err != nil {
						b.Error(err)
						return
					}
					for {
						if _, err := res.Body.Read(buf); err != nil {
							break
						}
					}
					_ = res.Body.Close()
				}
			})
		})
	}
}
