package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// quickstart copies deploy/quickstart into a temp dir with the backends on the given ports.
func quickstart(t *testing.T, v1, v2 int) string {
	t.Helper()
	dir := t.TempDir()
	files, err := filepath.Glob("../../deploy/quickstart/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatal("no quickstart config", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		s := strings.NewReplacer("targetPort: 9081", fmt.Sprintf("targetPort: %d", v1), "targetPort: 9082", fmt.Sprintf("targetPort: %d", v2)).Replace(string(data))
		writeFile(t, dir, filepath.Base(f), s)
	}
	return dir
}

type echo struct {
	Backend string            `json:"backend"`
	Headers map[string]any    `json:"headers"`
	URL     string            `json:"url"`
	Args    map[string]any    `json:"args"`
	Extra   map[string]string `json:"-"`
}

func decodeEcho(t *testing.T, body string) echo {
	t.Helper()
	var e echo
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, body)
	}
	return e
}

// TestQuickstart runs the README's curl lines against the quickstart config.
func TestQuickstart(t *testing.T) {
	t.Parallel()
	v1, v2 := backend(t, "v1"), backend(t, "v2")
	g := run(t, quickstart(t, v1, v2), 8080)
	host := "Host: demo.example.com"

	t.Run("split", func(t *testing.T) {
		seen := map[string]int{}
		for range 40 {
			body, code := curl(t, "-H", host, g.url("/headers"))
			if code != 200 {
				t.Fatalf("status %d: %s", code, body)
			}
			seen[decodeEcho(t, body).Backend]++
		}
		if seen["v1"] == 0 || seen["v2"] == 0 || seen["v1"] < seen["v2"] {
			t.Errorf("80/20 split not visible: %v", seen)
		}
	})
	t.Run("the admin path is denied, also when written around the normalizer", func(t *testing.T) {
		for _, path := range []string{"/anything/admin", "/anything/admin/users", "/anything/public/../admin", "/anything/%61dmin"} {
			body, code := curl(t, "--path-as-is", "-H", host, g.url(path))
			if code != 403 || body != "RBAC: access denied" {
				t.Errorf("%s: %d %q, want 403 RBAC: access denied", path, code, body)
			}
		}
	})
	t.Run("header match", func(t *testing.T) {
		for range 5 {
			body, code := curl(t, "-H", host, "-H", "x-version: v2", g.url("/anything"))
			if e := decodeEcho(t, body); code != 200 || e.Backend != "v2" {
				t.Fatalf("status %d backend %q", code, e.Backend)
			}
		}
	})
	t.Run("prefix match rewrites the path and keeps host and query", func(t *testing.T) {
		body, code := curl(t, "-H", host, g.url("/v1/anything?x=1"))
		e := decodeEcho(t, body)
		if code != 200 || e.Backend != "v1" {
			t.Fatalf("status %d backend %q", code, e.Backend)
		}
		if !strings.Contains(body, `"host":"demo.example.com"`) || !strings.Contains(body, `"path":"/anything"`) || !strings.Contains(body, `"x":"1"`) {
			t.Errorf("upstream did not get the rewritten path with the original host and query:\n%s", body)
		}
	})
	t.Run("unknown host is 404", func(t *testing.T) {
		if _, code := curl(t, "-H", "Host: other.example.com", g.url("/headers")); code != 404 {
			t.Errorf("status %d, want 404", code)
		}
	})
	t.Run("wildcard host", func(t *testing.T) {
		// *.demo.example.com is a server host, but the VirtualService binds only demo.example.com.
		if _, code := curl(t, "-H", "Host: a.demo.example.com", g.url("/headers")); code != 404 {
			t.Errorf("status %d, want 404", code)
		}
	})
	t.Run("metrics", func(t *testing.T) {
		body, code := curl(t, fmt.Sprintf("http://127.0.0.1:%d/stats/prometheus", g.stats))
		if code != 200 {
			t.Fatalf("status %d", code)
		}
		for _, want := range []string{"istio_requests_total", "istio_request_duration_milliseconds_bucket", `gatehouse_config_reloads_total{result="ok"} 1`} {
			if !strings.Contains(body, want) {
				t.Errorf("metrics lack %s", want)
			}
		}
	})
	t.Run("debug config", func(t *testing.T) {
		body, code := curl(t, fmt.Sprintf("http://127.0.0.1:%d/debug/config", g.admin))
		var cfg struct {
			Version   int `json:"version"`
			Resources []struct {
				Kind string `json:"kind"`
			} `json:"resources"`
		}
		if err := json.Unmarshal([]byte(body), &cfg); code != 200 || err != nil {
			t.Fatalf("status %d: %v", code, err)
		}
		if cfg.Version != 1 || len(cfg.Resources) < 4 {
			t.Errorf("version %d, %d resources", cfg.Version, len(cfg.Resources))
		}
	})
}
