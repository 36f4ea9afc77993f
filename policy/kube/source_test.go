package kube

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	meshconfig "istio.io/api/mesh/v1alpha1"
	networking "istio.io/api/networking/v1alpha3"
	security "istio.io/api/security/v1beta1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/gatehouse-dev/gatehouse/policy"
)

func gateway(credentialName string) *unstructured.Unstructured {
	return obj(policy.KindGateway, "istio-system", "web", map[string]any{
		"selector": map[string]any{"istio": "ingressgateway"},
		"servers": []any{map[string]any{
			"port":  map[string]any{"number": int64(443), "name": "https", "protocol": "HTTPS"},
			"hosts": []any{"web.example.com"},
			"tls":   map[string]any{"mode": "SIMPLE", "credentialName": credentialName},
		}},
	})
}

func allowPolicy(namespace, name, action string) *unstructured.Unstructured {
	return obj(policy.KindAuthorizationPolicy, namespace, name, map[string]any{
		"action": action,
		"rules":  []any{map[string]any{"to": []any{map[string]any{"operation": map[string]any{"paths": []any{"/public/*"}}}}}},
	})
}

func secret(namespace, name string, labels map[string]string, data string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels},
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{"token": []byte(data)},
	}
}

func TestSnapshotHoldsClusterObjects(t *testing.T) {
	t.Parallel()
	mesh := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "istio", Namespace: "istio-system"},
		Data:       map[string]string{"mesh": "trustDomain: example.org\n"},
	}
	e := startEnv(t, nil, gateway("web-cert"), allowPolicy("shop", "public", "ALLOW"), mesh)
	snap := e.waitFor("a snapshot", func(s *policy.Snapshot) bool { return s != nil })
	if got := len(snap.List(policy.KindGateway)); got != 1 {
		t.Errorf("Gateways = %d, want 1", got)
	}
	aps := snap.List(policy.KindAuthorizationPolicy)
	if len(aps) != 1 || aps[0].Namespace != "shop" || aps[0].Name != "public" {
		t.Fatalf("AuthorizationPolicies = %v", aps)
	}
	if got := aps[0].Spec.(*security.AuthorizationPolicy).GetAction(); got != security.AuthorizationPolicy_ALLOW {
		t.Errorf("action = %v", got)
	}
	if aps[0].Origin.File != "kube:AuthorizationPolicy/shop/public" {
		t.Errorf("origin = %q", aps[0].Origin.File)
	}
	if got := snap.Mesh.GetTrustDomain(); got != "example.org" {
		t.Errorf("trustDomain = %q, want the istio ConfigMap's", got)
	}
}

func TestMeshConfigMapElsewhereIgnored(t *testing.T) {
	t.Parallel()
	other := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "istio", Namespace: "default"},
		Data:       map[string]string{"mesh": "trustDomain: elsewhere.org\n"},
	}
	e := startEnv(t, nil, other)
	snap := e.waitFor("a snapshot", func(s *policy.Snapshot) bool { return s != nil })
	if got := snap.Mesh.GetTrustDomain(); got != (&meshconfig.MeshConfig{TrustDomain: "cluster.local"}).GetTrustDomain() {
		t.Errorf("trustDomain = %q, want Istio's default", got)
	}
}

func TestUpdatePublishesNewVersion(t *testing.T) {
	t.Parallel()
	ap := allowPolicy("shop", "public", "ALLOW")
	e := startEnv(t, nil, ap)
	first := e.waitFor("a snapshot", func(s *policy.Snapshot) bool { return s != nil })
	ch := e.src.Subscribe(e.ctx)
	if got := <-ch; got != first {
		t.Fatalf("Subscribe yielded version %d first, want the current %d", got.Version, first.Version)
	}
	ap.Object["spec"].(map[string]any)["action"] = "DENY"
	e.update(ap)
	next := <-ch
	if next.Version != first.Version+1 {
		t.Fatalf("version = %d, want %d", next.Version, first.Version+1)
	}
	if got := next.List(policy.KindAuthorizationPolicy)[0].Spec.(*security.AuthorizationPolicy).GetAction(); got != security.AuthorizationPolicy_DENY {
		t.Errorf("action = %v, want DENY", got)
	}
}

func TestInvalidObjectKeepsLastGoodAndRecordsEvent(t *testing.T) {
	t.Parallel()
	ap := allowPolicy("shop", "public", "ALLOW")
	e := startEnv(t, nil, ap)
	good := e.waitFor("a snapshot", func(s *policy.Snapshot) bool { return s != nil })

	ap.Object["spec"].(map[string]any)["action"] = "PERMIT"
	e.update(ap)
	e.waitFor("the rejection", func(*policy.Snapshot) bool { return e.src.Problems().Errors() > 0 })
	if got := e.src.Current(); got != good {
		t.Fatalf("snapshot changed to version %d after an invalid update", got.Version)
	}
	p := e.src.Problems()[0]
	if p.Origin.File != "kube:AuthorizationPolicy/shop/public" {
		t.Errorf("problem origin = %q", p.Origin.File)
	}
	events := e.events("shop")
	if len(events) != 1 {
		t.Fatalf("events = %d, want 1", len(events))
	}
	ev := events[0]
	if ev.Reason != eventReason || ev.Type != corev1.EventTypeWarning || ev.InvolvedObject.Kind != "AuthorizationPolicy" ||
		ev.InvolvedObject.Name != "public" || ev.InvolvedObject.UID != ap.GetUID() || !strings.Contains(ev.Message, "PERMIT") {
		t.Errorf("event = %+v", ev)
	}

	// Another object's change rebuilds while the policy is still invalid: no second Event for
	// the same generation.
	e.create(allowPolicy("shop", "other", "ALLOW"))
	e.waitFor("a second failed rebuild", func(*policy.Snapshot) bool {
		return testutil.ToFloat64(e.src.rebuilds.WithLabelValues("failed")) >= 2
	})
	if got := len(e.events("shop")); got != 1 {
		t.Errorf("events after an unrelated change = %d, want 1", got)
	}

	// A new generation that is still invalid gets its own Event; fixing it publishes.
	ap.Object["spec"].(map[string]any)["action"] = "ALOW"
	e.update(ap)
	e.waitFor("a second Event", func(*policy.Snapshot) bool { return len(e.events("shop")) == 2 })
	ap.Object["spec"].(map[string]any)["action"] = "ALLOW"
	e.update(ap)
	fixed := e.waitFor("the fixed snapshot", func(s *policy.Snapshot) bool { return s.Version > good.Version })
	if got := len(fixed.List(policy.KindAuthorizationPolicy)); got != 2 {
		t.Errorf("AuthorizationPolicies = %d, want 2", got)
	}
}

func (e *env) events(namespace string) []corev1.Event {
	e.t.Helper()
	list, err := e.kube.CoreV1().Events(namespace).List(e.ctx, metav1.ListOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return list.Items
}

func TestSecretsReachSinkOnlyWhenReferenced(t *testing.T) {
	t.Parallel()
	objs := []runtime.Object{
		gateway("web-cert"),
		secret("istio-system", "web-cert", nil, "referenced"),
		secret("istio-system", "unrelated", nil, "not referenced"),
		secret("istio-system", "extra", map[string]string{"gatehouse.dev/credential": "true"}, "selected"),
		secret("default", "web-cert", nil, "another namespace"),
		secret("default", "extra", map[string]string{"gatehouse.dev/credential": "true"}, "another namespace"),
	}
	e := startEnv(t, func(o *Options) { o.SecretSelector = "gatehouse.dev/credential=true" }, objs...)
	snap := e.waitFor("a snapshot", func(s *policy.Snapshot) bool { return s != nil })
	got := e.sink.get()
	want := []string{"istio-system/extra", "istio-system/web-cert"}
	if names := slices.Sorted(maps.Keys(got)); !slices.Equal(names, want) {
		t.Fatalf("sink holds %v, want %v", names, want)
	}
	if string(got["istio-system/web-cert"]["token"]) != "referenced" {
		t.Errorf("web-cert data = %q", got["istio-system/web-cert"]["token"])
	}
	if !snap.HasCredential("istio-system", "web-cert") || snap.HasCredential("istio-system", "unrelated") || snap.HasCredential("default", "web-cert") {
		t.Errorf("snapshot credentials = %v", snap.Credentials())
	}

	// A rotation reaches the sink without a new snapshot.
	rotated := secret("istio-system", "web-cert", nil, "rotated")
	if _, err := e.kube.CoreV1().Secrets("istio-system").Update(e.ctx, rotated, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitFor("the rotated data", func(*policy.Snapshot) bool {
		return string(e.sink.get()["istio-system/web-cert"]["token"]) == "rotated"
	})
	if cur := e.src.Current(); cur != snap {
		t.Errorf("a Secret rotation published version %d", cur.Version)
	}

	// A Secret that becomes referenced joins the sink and the snapshot.
	gw := gateway("unrelated")
	gw.SetGeneration(1)
	e.update(gw)
	next := e.waitFor("the new reference", func(s *policy.Snapshot) bool { return s.HasCredential("istio-system", "unrelated") })
	if next.HasCredential("istio-system", "web-cert") {
		t.Errorf("web-cert still a credential after the Gateway stopped naming it")
	}
	if _, ok := e.sink.get()["istio-system/web-cert"]; ok {
		t.Errorf("web-cert still in the sink after the Gateway stopped naming it")
	}
}

// TestSecretRotationWhileRejected: an invalid object elsewhere keeps the last good config in
// force, and the certificates that config uses keep rotating.
func TestSecretRotationWhileRejected(t *testing.T) {
	t.Parallel()
	ap := allowPolicy("shop", "public", "ALLOW")
	e := startEnv(t, nil, gateway("web-cert"), secret("istio-system", "web-cert", nil, "first"), ap)
	e.waitFor("a snapshot", func(s *policy.Snapshot) bool { return s != nil })
	ap.Object["spec"].(map[string]any)["action"] = "PERMIT"
	e.update(ap)
	e.waitFor("the rejection", func(*policy.Snapshot) bool { return e.src.Problems().Errors() > 0 })
	if _, err := e.kube.CoreV1().Secrets("istio-system").Update(e.ctx, secret("istio-system", "web-cert", nil, "rotated"), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitFor("the rotated data while the config is rejected", func(*policy.Snapshot) bool {
		return string(e.sink.get()["istio-system/web-cert"]["token"]) == "rotated"
	})
}

func TestServiceBecomesServiceEntry(t *testing.T) {
	t.Parallel()
	ready, notReady := true, false
	port := int32(8080)
	httpName := "http"
	objs := []runtime.Object{
		&corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"},
			Spec: corev1.ServiceSpec{ClusterIPs: []string{"10.96.0.10"}, Ports: []corev1.ServicePort{
				{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP},
			}},
		},
		&discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Name: "web-abc", Namespace: "shop", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{{Name: &httpName, Port: &port}},
			Endpoints: []discoveryv1.Endpoint{
				{Addresses: []string{"10.0.0.5"}, Conditions: discoveryv1.EndpointConditions{Ready: &ready},
					TargetRef: &corev1.ObjectReference{Kind: "Pod", Name: "web-1", Namespace: "shop"}},
				{Addresses: []string{"10.0.0.6"}, Conditions: discoveryv1.EndpointConditions{Ready: &notReady},
					TargetRef: &corev1.ObjectReference{Kind: "Pod", Name: "web-2", Namespace: "shop"}},
			},
		},
		&corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "shop",
				Labels: map[string]string{"app": "web", "security.istio.io/tlsMode": "istio"}},
			Spec: corev1.PodSpec{ServiceAccountName: "web-sa"},
		},
	}
	e := startEnv(t, nil, objs...)
	snap := e.waitFor("the ServiceEntry", func(s *policy.Snapshot) bool {
		return s != nil && len(s.List(policy.KindServiceEntry)) == 1
	})
	r := snap.List(policy.KindServiceEntry)[0]
	if r.Namespace != "shop" || r.Origin.File != "kube:Service/shop/web" {
		t.Errorf("resource %s from %s", r.Key(), r.Origin.File)
	}
	se := r.Spec.(*networking.ServiceEntry)
	if !slices.Equal(se.GetHosts(), []string{"web.shop.svc.cluster.local"}) || se.GetLocation() != networking.ServiceEntry_MESH_INTERNAL ||
		se.GetResolution() != networking.ServiceEntry_STATIC || !slices.Equal(se.GetAddresses(), []string{"10.96.0.10"}) {
		t.Errorf("service entry = %v", se)
	}
	if p := se.GetPorts(); len(p) != 1 || p[0].GetName() != "http" || p[0].GetNumber() != 80 || p[0].GetProtocol() != "HTTP" || p[0].GetTargetPort() != 8080 {
		t.Errorf("ports = %v", p)
	}
	eps := se.GetEndpoints()
	if len(eps) != 1 {
		t.Fatalf("endpoints = %v, want only the ready one", eps)
	}
	ep := eps[0]
	if ep.GetAddress() != "10.0.0.5" || ep.GetServiceAccount() != "web-sa" || ep.GetLabels()["app"] != "web" ||
		ep.GetLabels()["security.istio.io/tlsMode"] != "istio" || ep.GetPorts()["http"] != 8080 {
		t.Errorf("endpoint = %v", ep)
	}

	// The second Pod turning ready adds its endpoint.
	sl, err := e.kube.DiscoveryV1().EndpointSlices("shop").Get(e.ctx, "web-abc", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sl.Endpoints[1].Conditions.Ready = &ready
	if _, err := e.kube.DiscoveryV1().EndpointSlices("shop").Update(e.ctx, sl, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitFor("the second endpoint", func(s *policy.Snapshot) bool {
		return len(s.List(policy.KindServiceEntry)[0].Spec.(*networking.ServiceEntry).GetEndpoints()) == 2
	})
}
