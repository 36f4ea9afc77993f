package demo

import (
	"testing"
)

func TestStatus(t *testing.T) {
	t.Parallel()
	base := "http://" + startBackend(t, Options{Name: "v2"})
	c := newClient(t, false)

	tests := []struct {
		arg      string
		code     int
		location string
		noBody   bool
	}{
		{arg: "200", code: 200},
		{arg: "201", code: 201},
		{arg: "204", code: 204, noBody: true},
		{arg: "301", code: 301, location: "/anything"},
		{arg: "302", code: 302, location: "/anything"},
		{arg: "304", code: 304, noBody: true},
		{arg: "307", code: 307, location: "/anything"},
		{arg: "308", code: 308, location: "/anything"},
		{arg: "418", code: 418},
		{arg: "503", code: 503},
		{arg: "599", code: 599},
		{arg: "100", code: 400},
		{arg: "600", code: 400},
		{arg: "abc", code: 400},
		{arg: "", code: 400},
		{arg: "2000", code: 400},
	}
	for _, tt := range tests {
		t.Run(tt.arg, func(t *testing.T) {
			t.Parallel()
			res := do(t, c, "GET", base+"/status/"+tt.arg, nil, "")
			if res.code != tt.code {
				t.Fatalf("status = %d, want %d", res.code, tt.code)
			}
			if got := res.header.Get("Location"); got != tt.location {
				t.Errorf("location = %q, want %q", got, tt.location)
			}
			if got := res.header.Get("X-Backend-Name"); got != "v2" {
				t.Errorf("x-backend-name = %q, want v2", got)
			}
			if tt.noBody {
				if res.body != nil {
					t.Errorf("body = %v, want none", res.body)
				}
				return
			}
			if res.body["backend"] != "v2" {
				t.Errorf("backend = %v, want v2", res.body["backend"])
			}
			if tt.code == 400 {
				if _, ok := res.body["error"]; !ok {
					t.Errorf("body = %v, want an error member", res.body)
				}
				return
			}
			if got := res.body["status"]; got != float64(tt.code) {
				t.Errorf("status member = %v, want %d", got, tt.code)
			}
		})
	}
}
