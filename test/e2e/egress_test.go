package e2e

import (
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestEgressGateway follows the shape of Istio's "Egress Gateways with TLS Origination" task,
// with the binary selected as the egress gateway: internal clients send plain HTTP for an
// external host, the egress gateway's VirtualService sends it to the host's ServiceEntry
// (MESH_EXTERNAL, resolution DNS, port 443), and the DestinationRule originates TLS with the
// CA from a Secret and the external host as SNI. A loopback HTTPS server stands in for the
// external host; its ServiceEntry endpoint is the name localhost, which the gateway resolves.
// Only what the egress Gateway and its VirtualService route is forwarded: another host, and a
// host of a Gateway that selects the ingress gateway, get 404.
func TestEgressGateway(t *testing.T) {
	t.Parallel()
	external := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		_, _ = fmt.Fprintf(w, "external: SNI %s, Host %s", r.TLS.ServerName, r.Host)
	}))
	t.Cleanup(external.Close)
	caPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: external.Certificate().Raw}))
	dir := t.TempDir()
	writeFile(t, dir, "external-ca.yaml", secretYAML("external-ca", "tls", "", "", caPEM))
	writeFile(t, dir, "egress.yaml", fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: istio-egressgateway, namespace: istio-system}
spec:
  selector: {istio: egressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [external.example.com, unrouted.example.com]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: ingress-only, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [ingress.example.com]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: external, namespace: istio-system}
spec:
  hosts: [external.example.com, ingress.example.com]
  location: MESH_EXTERNAL
  ports:
  - {number: 443, name: https, protocol: HTTPS, targetPort: %s}
  resolution: DNS
  endpoints: [{address: localhost}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: external-through-egress, namespace: istio-system}
spec:
  hosts: [external.example.com]
  gateways: [istio-egressgateway]
  http:
  - route:
    - destination: {host: external.example.com, port: {number: 443}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ingress-only, namespace: istio-system}
spec:
  hosts: [ingress.example.com]
  gateways: [ingress-only]
  http:
  - route:
    - destination: {host: ingress.example.com, port: {number: 443}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: originate-tls, namespace: istio-system}
spec:
  host: external.example.com
  trafficPolicy:
    portLevelSettings:
    - port: {number: 443}
      tls: {mode: SIMPLE, credentialName: external-ca, sni: external.example.com}
`, httptestPort(t, external)))
	g := run(t, dir, 80, "--labels", "istio=egressgateway")
	body, code := curl(t, "-H", "Host: external.example.com", g.url("/"))
	if want := "external: SNI external.example.com, Host external.example.com"; code != http.StatusOK || body != want {
		t.Errorf("routed external host: %d %q, want 200 %q", code, body, want)
	}
	for _, host := range []string{"unrouted.example.com", "ingress.example.com", "elsewhere.example.org"} {
		if _, code := curl(t, "-H", "Host: "+host, g.url("/")); code != http.StatusNotFound {
			t.Errorf("%s at the egress gateway: %d, want 404", host, code)
		}
	}
}

// TestEgressWildcardHTTP sends plain HTTP through the egress gateway to a wildcard ServiceEntry
// with resolution DYNAMIC_DNS, which Istio serves with Envoy's HTTP dynamic forward proxy: each
// request dials the name of its own Host. This test needs no name to resolve (reaching
// backends by name is TestEgressWildcardByName): curl sees what a client sees for the names it
// may not use: a name outside the wildcard, or an IP literal, gets 404, and a name under the
// wildcard that does not resolve gets Envoy's "DNS resolution failure".
func TestEgressWildcardHTTP(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "egress.yaml", `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: istio-egressgateway, namespace: istio-system}
spec:
  selector: {istio: egressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: wildcard, namespace: istio-system}
spec:
  hosts: ["*.wild.invalid"]
  location: MESH_EXTERNAL
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DYNAMIC_DNS
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: wildcard-through-egress, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [istio-egressgateway]
  http:
  - route:
    - destination: {host: "*.wild.invalid", port: {number: 80}}
`)
	g := run(t, dir, 80, "--labels", "istio=egressgateway")
	for _, host := range []string{"elsewhere.example.org", "wild.invalid", "127.0.0.1"} {
		if _, code := curl(t, "-H", "Host: "+host, g.url("/")); code != http.StatusNotFound {
			t.Errorf("Host %s through the wildcard: %d, want 404", host, code)
		}
	}
	body, code := curl(t, "-H", "Host: a.wild.invalid", g.url("/"))
	if want := "DNS resolution failure"; code != http.StatusServiceUnavailable || body != want {
		t.Errorf("unresolvable a.wild.invalid: %d %q, want 503 %q", code, body, want)
	}
}

// TestEgressWildcardByName is Istio's "wildcard hosts egress" for HTTP with names that resolve:
// the binary runs with a private /etc/hosts (withHosts), so the gateway's own resolver finds
// a.wild.test and b.wild.test on loopback. Plain HTTP reaches the demo backend with the client's
// Host, and a second wildcard ServiceEntry with a DestinationRule tls SIMPLE (no sni) originates
// TLS to a real nginx with each request's name as SNI and verified name (Envoy's auto_sni and
// auto_san_validation, which Istio sets on dynamic forward clusters).
func TestEgressWildcardByName(t *testing.T) {
	t.Parallel()
	prefix := withHosts(t, map[string]string{"a.wild.test": "127.0.0.1", "b.wild.test": "127.0.0.1", "api.secure.test": "127.0.0.1"})
	ca := newCA(t, "wild-ca")
	nginx := nginxTLS(t, "*.secure.test", ca.issue(t, leafOpts{dns: []string{"*.secure.test"}}))
	plain := backend(t, "wild")
	dir := t.TempDir()
	writeFile(t, dir, "ca.yaml", secretYAML("secure-ca", "tls", "", "", ca.pem))
	writeFile(t, dir, "egress.yaml", fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: istio-egressgateway, namespace: istio-system}
spec:
  selector: {istio: egressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*.wild.test", "*.secure.test"]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: wild, namespace: istio-system}
spec:
  hosts: ["*.wild.test"]
  location: MESH_EXTERNAL
  ports: [{number: 80, name: http, protocol: HTTP, targetPort: %d}]
  resolution: DYNAMIC_DNS
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: secure, namespace: istio-system}
spec:
  hosts: ["*.secure.test"]
  location: MESH_EXTERNAL
  ports: [{number: 443, name: https, protocol: HTTPS, targetPort: %d}]
  resolution: DYNAMIC_DNS
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: secure, namespace: istio-system}
spec:
  host: "*.secure.test"
  trafficPolicy:
    tls: {mode: SIMPLE, credentialName: secure-ca}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: secure, namespace: istio-system}
spec:
  hosts: ["*.secure.test"]
  gateways: [istio-egressgateway]
  http:
  - route:
    - destination: {host: "*.secure.test", port: {number: 443}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: wild, namespace: istio-system}
spec:
  hosts: ["*.wild.test"]
  gateways: [istio-egressgateway]
  http:
  - route:
    - destination: {host: "*.wild.test", port: {number: 80}}
`, plain, nginx))
	g := runPortsIn(t, prefix, dir, []int{80}, "--labels", "istio=egressgateway")
	for _, host := range []string{"a.wild.test", "b.wild.test"} {
		body, code := curl(t, "-H", "Host: "+host, g.url("/headers"))
		if code != http.StatusOK || !strings.Contains(body, `"Host":"`+host+`"`) {
			t.Errorf("Host %s through the wildcard: %d\n%s", host, code, body)
		}
	}
	body, code := curl(t, "-H", "Host: api.secure.test", g.url("/"))
	if want := "hello from nginx\n"; code != http.StatusOK || body != want {
		t.Errorf("TLS origination to api.secure.test: %d %q, want 200 %q", code, body, want)
	}
	if _, code := curl(t, "-H", "Host: c.wild.test", g.url("/")); code != http.StatusServiceUnavailable {
		t.Errorf("a name under the wildcard that does not resolve: %d, want 503", code)
	}
}
