package gateway

import (
	"net/http"
	"testing"
	"time"
)

func TestMirrorGetsShadowCopy(t *testing.T) {
	t.Parallel()
	up := backend(t, "app")
	seen := make(chan *http.Request, 4)
	shadow := backendHandler(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r
		w.WriteHeader(http.StatusInternalServerError)
	}))
	vs := routeHTTP("app.internal", "    mirror: {host: shadow.internal}\n")
	g := startGateway(t, snapshot(t, 1, edgeGateway, staticEntry("app", "app.internal", port(t, up)), staticEntry("shadow", "shadow.internal", port(t, shadow)), vs))
	res, err := get(t, newClient(t), g.addr(t, 80), "shop.example.com:8080", "/a?b=1")
	if err != nil {
		t.Fatal(err)
	}
	if res.code != 200 || res.body != "app" {
		t.Fatalf("main response %d %q, want the upstream's 200: the mirror's 500 must not matter", res.code, res.body)
	}
	select {
	case r := <-seen:
		if r.Host != "shop.example.com-shadow:8080" || r.URL.RequestURI() != "/a?b=1" {
			t.Errorf("mirror got Host %q URI %q, want shop.example.com-shadow:8080 /a?b=1", r.Host, r.URL.RequestURI())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the mirror received nothing")
	}
}

func TestShadowHost(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"a.com": "a.com-shadow", "a.com:80": "a.com-shadow:80", "[::1]:8080": "[::1-shadow]:8080"} {
		if got := shadowHost(in); got != want {
			t.Errorf("shadowHost(%q) = %q, want %q", in, got, want)
		}
	}
}
