package e2e

import (
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
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
