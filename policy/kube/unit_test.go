package kube

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	fakediscovery "k8s.io/client-go/discovery/fake"
	clienttesting "k8s.io/client-go/testing"

	"github.com/gatehouse-dev/gatehouse/policy"
)

func TestPortProtocol(t *testing.T) {
	t.Parallel()
	str := func(s string) *string { return &s }
	tests := []struct {
		name string
		port corev1.ServicePort
		want string
		ok   bool
	}{
		{"name prefix", corev1.ServicePort{Name: "http-web"}, "HTTP", true},
		{"bare name", corev1.ServicePort{Name: "grpc"}, "GRPC", true},
		{"case-insensitive", corev1.ServicePort{Name: "HTTP2-x"}, "HTTP2", true},
		{"grpc-web before the dash rule", corev1.ServicePort{Name: "grpc-web-ui"}, "GRPC-WEB", true},
		{"unknown name sniffs", corev1.ServicePort{Name: "web"}, "", true},
		{"unnamed sniffs", corev1.ServicePort{}, "", true},
		{"appProtocol wins over name", corev1.ServicePort{Name: "http", AppProtocol: str("tcp")}, "TCP", true},
		{"kubernetes.io/h2c", corev1.ServicePort{AppProtocol: str("kubernetes.io/h2c")}, "HTTP2", true},
		{"kubernetes.io/ws", corev1.ServicePort{AppProtocol: str("kubernetes.io/ws")}, "HTTP", true},
		{"kubernetes.io/wss", corev1.ServicePort{AppProtocol: str("kubernetes.io/wss")}, "HTTPS", true},
		{"UDP port", corev1.ServicePort{Name: "http", Protocol: corev1.ProtocolUDP}, "UDP", true},
		{"SCTP unusable", corev1.ServicePort{Name: "x", Protocol: corev1.ProtocolSCTP}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := portProtocol(tt.port)
			if got != tt.want || ok != tt.ok {
				t.Errorf("portProtocol = %q, %v; want %q, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestDiscoverPicksServedVersion(t *testing.T) {
	t.Parallel()
	res := func(gv string, kinds ...string) *metav1.APIResourceList {
		l := &metav1.APIResourceList{GroupVersion: gv}
		for _, k := range kinds {
			l.APIResources = append(l.APIResources, metav1.APIResource{Name: strings.ToLower(k) + "s", Kind: k})
		}
		return l
	}
	tests := []struct {
		name      string
		resources []*metav1.APIResourceList // the first of a group is its preferred version
		want      map[policy.Kind]string
	}{
		{"preferred version accepted",
			[]*metav1.APIResourceList{res("security.istio.io/v1beta1", "AuthorizationPolicy"), res("security.istio.io/v1", "AuthorizationPolicy")},
			map[policy.Kind]string{policy.KindAuthorizationPolicy: "security.istio.io/v1beta1"}},
		{"preferred version not policy's: newest accepted",
			[]*metav1.APIResourceList{res("networking.istio.io/v2", "Gateway"), res("networking.istio.io/v1alpha3", "Gateway"), res("networking.istio.io/v1beta1", "Gateway")},
			map[policy.Kind]string{policy.KindGateway: "networking.istio.io/v1beta1"}},
		{"kind missing from preferred version",
			[]*metav1.APIResourceList{res("networking.istio.io/v1", "Gateway"), res("networking.istio.io/v1alpha3", "Gateway", "WorkloadEntry")},
			map[policy.Kind]string{policy.KindGateway: "networking.istio.io/v1", policy.KindWorkloadEntry: "networking.istio.io/v1alpha3"}},
		{"Gatehouse kinds", []*metav1.APIResourceList{res("gatehouse.dev/v1alpha1", "Settings", "OIDCLogin")},
			map[policy.Kind]string{policy.KindSettings: "gatehouse.dev/v1alpha1", policy.KindOIDCLogin: "gatehouse.dev/v1alpha1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := &fakediscovery.FakeDiscovery{Fake: &clienttesting.Fake{Resources: tt.resources}}
			served, missing, err := discoverResources(context.Background(), d)
			if err != nil {
				t.Fatal(err)
			}
			got := map[policy.Kind]string{}
			for _, r := range served {
				got[r.kind] = r.gvr.GroupVersion().String()
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("served = %v, want %v", got, tt.want)
			}
			if len(served)+len(missing) != len(watchedKinds) {
				t.Errorf("served %d + missing %d != %d kinds", len(served), len(missing), len(watchedKinds))
			}
		})
	}
}

// TestWatchedKindsDecode keeps watchedKinds in step with what policy decodes: every listed
// version of every kind must be accepted as an apiVersion.
func TestWatchedKindsDecode(t *testing.T) {
	t.Parallel()
	for _, wk := range watchedKinds {
		for _, v := range wk.versions {
			doc := fmt.Sprintf("apiVersion: %s/%s\nkind: %s\nmetadata: {name: x, namespace: y}\nspec: {}\n", wk.group, v, wk.kind)
			cfg := policy.Parse(map[string][]byte{"x.yaml": []byte(doc)}, policy.LoadOptions{})
			for _, p := range cfg.Problems {
				if strings.Contains(p.Reason, "version") || strings.Contains(p.Reason, "kind") {
					t.Errorf("%s %s/%s: %s", wk.kind, wk.group, v, p)
				}
			}
			if len(cfg.Resources) == 0 && cfg.Problems.Errors() == 0 {
				t.Errorf("%s %s/%s: not decoded", wk.kind, wk.group, v)
			}
		}
	}
}

func TestEventMessageBounded(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", maxEventMessage)
	for _, in := range []string{"short", long} {
		got := eventMessage([]string{in, in})
		if len(got) > maxEventMessage || !utf8.ValidString(got) {
			t.Errorf("message of %d bytes (valid UTF-8: %v)", len(got), utf8.ValidString(got))
		}
	}
	if got := eventMessage([]string{"a", "b"}); got != "a\nb" {
		t.Errorf("eventMessage = %q", got)
	}
}

func TestSecretRefs(t *testing.T) {
	t.Parallel()
	cfg := policy.Parse(map[string][]byte{"x.yaml": []byte(`
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: apps}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: ["a.example.com"]
    tls: {mode: MUTUAL, credentialName: mtls}
  - port: {number: 8443, name: https-b, protocol: HTTPS}
    hosts: ["b.example.com"]
    tls: {mode: SIMPLE, credentialNames: [rsa, ecdsa]}
`)}, policy.LoadOptions{})
	if err := cfg.Problems.Err(); err != nil {
		t.Fatal(err)
	}
	got := secretRefs(cfg.Resources, "istio-system")
	for _, want := range []string{"mtls", "mtls-cacert", "rsa", "ecdsa"} {
		if !got[want] {
			t.Errorf("refs = %v, missing %s", got, want)
		}
	}
	if got["rsa-cacert"] || len(got) != 4 {
		t.Errorf("refs = %v, want only the four", got)
	}
}
