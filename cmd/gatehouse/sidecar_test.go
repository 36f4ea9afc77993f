package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-dev/gatehouse/ca/posture"
	"github.com/gatehouse-dev/gatehouse/gateway"
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/sds"
)

func TestParseInbound(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      []string
		want    []inboundPort
		wantErr bool
	}{
		{in: []string{"8443=8080"}, want: []inboundPort{{8443, 8080}}},
		{in: []string{"8443=8080, 9443=9090", "7443=7070"}, want: []inboundPort{{8443, 8080}, {9443, 9090}, {7443, 7070}}},
		{in: []string{"8443"}, wantErr: true},
		{in: []string{"8443=0"}, wantErr: true},
		{in: []string{"8443=8080,8443=8081"}, wantErr: true},
	}
	for _, tc := range tests {
		got, err := parseInbound(tc.in)
		if (err != nil) != tc.wantErr || !slices.Equal(got, tc.want) {
			t.Errorf("parseInbound(%q) = %v, %v; want %v (error %v)", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestParseOutbound(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      []string
		want    []outboundPort
		wantErr bool
	}{
		{in: []string{"Web.Apps.svc.cluster.local:80=15001"}, want: []outboundPort{{"web.apps.svc.cluster.local", 80, 15001}}},
		{in: []string{"a.internal:443=1,b.internal:8080=2"}, want: []outboundPort{{"a.internal", 443, 1}, {"b.internal", 8080, 2}}},
		{in: []string{"a.internal=1"}, wantErr: true},
		{in: []string{":80=1"}, wantErr: true},
		{in: []string{"a.internal:80=1", "b.internal:80=1"}, wantErr: true},
	}
	for _, tc := range tests {
		got, err := parseOutbound(tc.in)
		if (err != nil) != tc.wantErr || !slices.Equal(got, tc.want) {
			t.Errorf("parseOutbound(%q) = %v, %v; want %v (error %v)", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

const sidecarAppID = "spiffe://cluster.local/ns/apps/sa/app"

// appEntry declares app.internal:80 served at loopback port target by service account sa: the
// outbound side's endpoints and secure naming.
func appEntry(target uint32, sa string) string {
	return fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: app, namespace: apps}
spec:
  hosts: [app.internal]
  location: MESH_INTERNAL
  ports: [{number: 80, name: http, protocol: HTTP, targetPort: %d}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1, serviceAccount: %s}]
`, target, sa)
}

// TestSidecarSnapshot: the synthesized snapshot compiles cleanly for both gateways in every mode,
// the inbound port served as the mode says and the outbound one originating ISTIO_MUTUAL with the
// destination's identity.
func TestSidecarSnapshot(t *testing.T) {
	t.Parallel()
	spec := sidecarSpec{Namespace: "apps", Labels: map[string]string{"app": "web"},
		Inbound: []inboundPort{{8443, 8080}}, Outbound: []outboundPort{{"app.internal", 80, 15001}}}
	user := userSnapshot(t, appEntry(8443, "app"), `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: apps}
spec:
  selector: {app: web}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]
`)
	tests := []struct {
		mode       posture.Mode
		protocol   string
		permissive bool
	}{
		{posture.Strict, "TLS", false},
		{posture.Permissive, "TLS", true},
		{posture.Disable, "HTTP", false},
	}
	for _, tc := range tests {
		t.Run(string(tc.mode), func(t *testing.T) {
			t.Parallel()
			snap := sidecarSnapshot(user, spec, posture.Policy{Default: tc.mode}, 1)
			in := compileClean(t, snap, spec, directionInbound)
			if len(in.Listeners) != 1 {
				t.Fatalf("inbound listeners %+v, want the one inbound port (the user's Gateway is not served)", in.Listeners)
			}
			l := in.Listeners[0]
			if l.Port != 8443 || l.Protocol != tc.protocol || l.Permissive != tc.permissive {
				t.Errorf("inbound listener port %d %s permissive=%v, want 8443 %s permissive=%v", l.Port, l.Protocol, l.Permissive, tc.protocol, tc.permissive)
			}
			if in.ForwardClientCert != "SANITIZE_SET" {
				t.Errorf("forwardClientCert %s, want SANITIZE_SET", in.ForwardClientCert)
			}
			out := compileClean(t, snap, spec, directionOutbound)
			if len(out.Listeners) != 1 || out.Listeners[0].Bind != "127.0.0.1" || out.Listeners[0].Port != 15001 {
				t.Fatalf("outbound listeners %+v, want 127.0.0.1:15001", out.Listeners)
			}
			var tlsOK bool
			for _, c := range out.Clusters {
				if c.TLS != nil && c.TLS.Mode == "ISTIO_MUTUAL" && slices.Contains(c.TLS.SubjectAltNames, sidecarAppID) {
					tlsOK = true
				}
			}
			if !tlsOK {
				t.Errorf("no ISTIO_MUTUAL cluster naming %s among %+v", sidecarAppID, out.Clusters)
			}
		})
	}
}

func userSnapshot(t *testing.T, docs ...string) *policy.Snapshot {
	t.Helper()
	snap, ps := policy.ParseSnapshot(map[string][]byte{"test.yaml": []byte(strings.Join(docs, "---\n"))})
	if snap == nil {
		t.Fatalf("config does not load:\n%v", ps)
	}
	return snap
}

func compileClean(t *testing.T, snap *policy.Snapshot, spec sidecarSpec, direction string) *gateway.Table {
	t.Helper()
	table, problems := gateway.Compile(snap, gateway.CompileOptions{Namespace: spec.Namespace, Labels: spec.directionLabels(direction)})
	if len(problems) > 0 {
		t.Fatalf("%s: problems:\n%v", direction, problems)
	}
	return table
}

// TestSidecarLoop runs the sidecar in-process with one identity for both sides: the app's
// outbound request goes out ISTIO_MUTUAL to the sidecar's own inbound port and reaches the app
// with the caller's SPIFFE ID in x-forwarded-client-cert; plaintext to the inbound port is
// refused under STRICT, served after a live switch to PERMISSIVE, refused again after STRICT; and
// a server identity the ServiceEntry does not name fails secure naming. An AuthorizationPolicy
// selecting the workload applies to the inbound side only.
func TestSidecarLoop(t *testing.T) {
	t.Parallel()
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Seen-Xfcc", r.Header.Get("X-Forwarded-Client-Cert"))
		_, _ = io.WriteString(w, "app")
	}))
	t.Cleanup(app.Close)
	appPort := portOf(t, app.Listener.Addr().String())
	inPort, outPort, wrongPort := freePort(t), freePort(t), freePort(t)

	p := &process{log: slog.New(slog.NewTextHandler(io.Discard, nil)), reg: prometheus.NewRegistry(), store: meshIdentityStore(t, sidecarAppID)}
	spec := sidecarSpec{Namespace: "apps", Labels: map[string]string{"app": "web"},
		Inbound:  []inboundPort{{inPort, appPort}},
		Outbound: []outboundPort{{"app.internal", 80, outPort}, {"impostor.internal", 80, wrongPort}}}
	az := p.newAuthz()
	t.Cleanup(az.keys.Close)
	sc := &sidecar{log: p.log, az: az, spec: spec, pol: posture.Policy{Default: posture.Strict},
		in: p.sidecarGateway(spec, directionInbound, az.engine), out: p.sidecarGateway(spec, directionOutbound, nil)}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = sc.in.Shutdown(ctx)
		_ = sc.out.Shutdown(ctx)
	})
	impostor := strings.ReplaceAll(strings.ReplaceAll(appEntry(inPort, "someone-else"), "app.internal", "impostor.internal"), "name: app,", "name: impostor,")
	// Only the app's own identity, or plaintext to /open: the outbound side (no principal) is
	// not subject to it, the inbound side is.
	sc.setConfig(userSnapshot(t, appEntry(inPort, "app"), impostor, `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: app-only, namespace: apps}
spec:
  selector: {matchLabels: {app: web}}
  action: ALLOW
  rules:
  - from: [{source: {principals: [cluster.local/ns/apps/sa/app]}}]
  - to: [{operation: {paths: ["/open"]}}]
`))

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	t.Cleanup(client.CloseIdleConnections)
	call := func(port uint32, path ...string) (int, http.Header, error) {
		res, err := client.Get("http://127.0.0.1:" + strconv.Itoa(int(port)) + "/" + strings.Join(path, ""))
		if err != nil {
			return 0, nil, err
		}
		defer res.Body.Close()
		_, _ = io.Copy(io.Discard, res.Body)
		return res.StatusCode, res.Header, nil
	}

	code, h, err := call(outPort)
	if err != nil || code != 200 {
		t.Fatalf("outbound → inbound: %d (%v), want 200", code, err)
	}
	if xfcc := h.Get("X-Seen-Xfcc"); !strings.Contains(xfcc, "By="+sidecarAppID) || !strings.Contains(xfcc, "URI="+sidecarAppID) {
		t.Errorf("x-forwarded-client-cert %q, want By and URI %s", xfcc, sidecarAppID)
	}
	if code, _, err := call(wrongPort); err != nil || code != http.StatusServiceUnavailable {
		t.Errorf("to a server outside the ServiceEntry's identities: %d (%v), want 503", code, err)
	}
	if _, _, err := call(inPort); err == nil {
		t.Fatal("plaintext served under STRICT")
	}
	sc.setPolicy(posture.Policy{Default: posture.Permissive})
	if code, h, err := call(inPort, "open"); err != nil || code != 200 || h.Get("X-Seen-Xfcc") != "" {
		t.Fatalf("plaintext under PERMISSIVE: %d xfcc %q (%v), want 200 without xfcc", code, h.Get("X-Seen-Xfcc"), err)
	}
	if code, _, err := call(inPort); err != nil || code != http.StatusForbidden {
		t.Fatalf("plaintext under PERMISSIVE to a path only the mesh identity may use: %d (%v), want 403", code, err)
	}
	sc.setPolicy(posture.Policy{Default: posture.Strict, Ports: map[uint32]posture.Mode{}})
	if _, _, err := call(inPort); err == nil {
		t.Fatal("plaintext served after switching back to STRICT")
	}
}

// meshIdentityStore holds a fresh mesh CA's root as ROOTCA and a workload certificate for id as
// "default", as the workload certificate manager publishes them.
func meshIdentityStore(t *testing.T, id string) *sds.Store {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	u, _ := url.Parse(id)
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		URIs: []*url.URL{u}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	pemOf := func(typ string, der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}) }
	if _, err := tls.X509KeyPair(pemOf("CERTIFICATE", leafDER), pemOf("PRIVATE KEY", keyDER)); err != nil {
		t.Fatal(err)
	}
	store := sds.NewStore(sds.StoreOptions{})
	store.ReplaceSource("workload", map[string]map[string][]byte{
		"ROOTCA":  {"ca.crt": pemOf("CERTIFICATE", caDER)},
		"default": {"tls.crt": pemOf("CERTIFICATE", leafDER), "tls.key": pemOf("PRIVATE KEY", keyDER)},
	})
	return store
}

func portOf(t *testing.T, addr string) uint32 {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return uint32(n)
}

// freePort is a port nothing listens on now; the sidecar binds the ports its flags name.
func freePort(t *testing.T) uint32 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return portOf(t, ln.Addr().String())
}
