package authz

import (
	"net/netip"
	"testing"
)

func TestStringMatch(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		m       stringMatch
		s       string
		present bool
		want    bool
	}{
		{"exact", newStringMatch("abc"), "abc", true, true},
		{"exact case", newStringMatch("abc"), "ABC", true, false},
		{"prefix", newStringMatch("abc*"), "abcd", true, true},
		{"suffix", newStringMatch("*abc"), "xabc", true, true},
		{"inner star is literal", newStringMatch("a*c"), "abc", true, false},
		{"inner star literal match", newStringMatch("a*c"), "a*c", true, true},
		{"non-empty", newStringMatch("*"), "", true, false},
		{"non-empty absent", newStringMatch("*"), "x", false, false},
		{"header present empty", newHeaderMatch("*"), "", true, true},
		{"header absent", newHeaderMatch("*"), "", false, false},
		{"host ignores case", newHostMatch("Example.COM"), "example.com", true, true},
		{"host suffix ignores case", newHostMatch("*.Example.com"), "WWW.EXAMPLE.COM", true, true},
		{"host prefix ignores case", newHostMatch("Example.*"), "example.org", true, true},
		{"host port is part of the value", newHostMatch("example.com"), "example.com:80", true, false},
		{"host any port", newHostMatch("example.com:*"), "example.com:80", true, true},
	} {
		if got := c.m.match(c.s, c.present); got != c.want {
			t.Errorf("%s: match(%q, %v) = %v, want %v", c.name, c.s, c.present, got, c.want)
		}
	}
}

func TestPeerIdentityMatchers(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name      string
		namespace string
		principal string
		want      bool
	}{
		{"namespace", "foo", "cluster.local/ns/foo/sa/a", true},
		{"namespace other", "foo", "cluster.local/ns/foobar/sa/a", false},
		{"namespace prefix", "foo*", "cluster.local/ns/foobar/sa/a", true},
		{"namespace suffix", "*-prod", "cluster.local/ns/team-prod/sa/a", true},
		{"namespace any", "*", "cluster.local/ns/x/sa/a", true},
		{"namespace without mTLS", "*", "", false},
		{"namespace needs /ns/", "foo", "foo", false},
		{"namespace right after the scheme", "foo", "ns/foo/sa/a", true},
	} {
		if got := newNamespaceMatch(c.namespace).match(c.principal); got != c.want {
			t.Errorf("%s: namespace %q on %q = %v, want %v", c.name, c.namespace, c.principal, got, c.want)
		}
	}
	for _, c := range []struct {
		value, principal string
		want             bool
	}{
		{"sleep", "cluster.local/ns/default/sa/sleep", true},
		{"other/sleep", "cluster.local/ns/other/sa/sleep", true},
		{"sleep", "cluster.local/ns/other/sa/sleep", false},
		{"sleep", "cluster.local/ns/default/sa/sleeper", false},
		{"sleep", "cluster.local/ns/default/sa/sleep/extra", true},
		{"sleep", "cluster.local/ns/default/x/sa/sleep", true},
		{"sleep", "/ns/default/sa/sleep", false},
		{"sleep", "td/ns/default/ns/default/sa/sleep", true},
		{"sleep", "", false},
	} {
		if got := newServiceAccountMatch("default", c.value).match(c.principal); got != c.want {
			t.Errorf("serviceAccount %q on %q = %v, want %v", c.value, c.principal, got, c.want)
		}
	}
	if td := trustDomain("cluster.local/ns/a/sa/b"); td != "cluster.local" {
		t.Errorf("trustDomain = %q", td)
	}
}

func TestGlobMatch(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true},
		{"a*b", "ab", true},
		{"a*b", "axxb", true},
		{"a*b", "axxbc", false},
		{"*/ns/x/*", "td/ns/x/sa/y", true},
		{"*/ns/x/*", "td/ns/y/sa/x", false},
		{"**a", "bba", true},
		{"", "", true},
		{"", "a", false},
	} {
		if got := globMatch(c.pattern, c.s); got != c.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", c.pattern, c.s, got, c.want)
		}
	}
}

func TestIPBlocks(t *testing.T) {
	t.Parallel()
	blocks, err := parseIPBlocks([]string{"10.0.0.0/8", "203.0.113.4", "2001:db8::/32", "::ffff:192.0.2.0/120"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		ip   string
		want bool
	}{
		{"10.1.2.3", true},
		{"203.0.113.4", true},
		{"203.0.113.5", false},
		{"2001:db8::1", true},
		{"192.0.2.7", true},
		{"::ffff:10.0.0.1", true},
	} {
		if got := anyPrefix(blocks, netip.MustParseAddr(c.ip).Unmap()); got != c.want {
			t.Errorf("%s: %v, want %v", c.ip, got, c.want)
		}
	}
	if anyPrefix(blocks, netip.Addr{}) {
		t.Error("an absent address matched")
	}
	if _, err := parseIPBlock("10.0.0.0/33"); err == nil {
		t.Error("bad CIDR accepted")
	}
}

// Every `when` key Istio knows, each against a request that matches and one that does not.
func TestConditionKeys(t *testing.T) {
	t.Parallel()
	e := newEngine(t, Options{}, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: when, namespace: foo}
spec:
  rules:
  - to: [{operation: {paths: ["/source.ip"]}}]
    when: [{key: source.ip, values: ["10.0.0.0/24"]}]
  - to: [{operation: {paths: ["/remote.ip"]}}]
    when: [{key: remote.ip, values: ["198.51.100.7"]}]
  - to: [{operation: {paths: ["/destination.ip"]}}]
    when: [{key: destination.ip, notValues: ["10.0.0.9"]}]
  - to: [{operation: {paths: ["/destination.port"]}}]
    when: [{key: destination.port, values: ["8080"]}]
  - to: [{operation: {paths: ["/connection.sni"]}}]
    when: [{key: connection.sni, values: ["*.example.com"]}]
  - to: [{operation: {paths: ["/source.namespace"]}}]
    when: [{key: source.namespace, values: ["default"]}]
  - to: [{operation: {paths: ["/source.principal"]}}]
    when: [{key: source.principal, values: ["cluster.local/ns/default/sa/sleep"]}]
  - to: [{operation: {paths: ["/source.serviceAccount"]}}]
    when: [{key: source.serviceAccount, values: ["default/sleep"]}]
  - to: [{operation: {paths: ["/source.trustDomain"]}}]
    when: [{key: source.trustDomain, values: ["cluster.*"]}]
  - to: [{operation: {paths: ["/inline"]}}]
    when: [{key: "request.experimental.inline.headers[x-list]", values: ["b"]}]
  - to: [{operation: {paths: ["/metadata"]}}]
    when: [{key: "experimental.envoy.filters.http.example[tier]", values: ["gold"]}]
  - to: [{operation: {paths: ["/metadata-list"]}}]
    when: [{key: "experimental.envoy.filters.http.example[groups]", values: ["[admins]"]}]
  - from: [{source: {serviceAccounts: ["sleep"], trustDomains: ["cluster.local"]}}]
    to: [{operation: {paths: ["/source-fields"]}}]
  - from: [{source: {remoteIpBlocks: ["198.51.100.0/24"], notIpBlocks: ["10.0.0.9"]}}]
    to: [{operation: {paths: ["/remote-blocks"]}}]
`)
	sleep := peer("cluster.local/ns/default/sa/sleep")
	meta := func(r *Request) {
		r.FilterMetadata = map[string]map[string]any{"envoy.filters.http.example": {"tier": "gold", "groups": []any{"users", "admins"}}}
	}
	runChecks(t, e, []check{
		{"source.ip", req(httpbinFoo, path("/source.ip")), ok, ""},
		{"source.ip no", req(httpbinFoo, path("/source.ip"), srcIP("10.0.1.1")), forbidden, ""},
		{"remote.ip", req(httpbinFoo, path("/remote.ip"), remoteIP("198.51.100.7")), ok, ""},
		{"remote.ip no", req(httpbinFoo, path("/remote.ip")), forbidden, ""},
		{"destination.ip", req(httpbinFoo, path("/destination.ip")), ok, ""},
		{"destination.port", req(httpbinFoo, path("/destination.port")), ok, ""},
		{"destination.port no", req(httpbinFoo, path("/destination.port"), port(9090)), forbidden, ""},
		{"connection.sni", req(httpbinFoo, path("/connection.sni"), sni("api.example.com")), ok, ""},
		{"connection.sni absent", req(httpbinFoo, path("/connection.sni")), forbidden, ""},
		{"source.namespace", req(httpbinFoo, path("/source.namespace"), sleep), ok, ""},
		{"source.principal", req(httpbinFoo, path("/source.principal"), sleep), ok, ""},
		{"source.serviceAccount", req(httpbinFoo, path("/source.serviceAccount"), sleep), ok, ""},
		{"source.trustDomain", req(httpbinFoo, path("/source.trustDomain"), sleep), ok, ""},
		{"source.trustDomain no mTLS", req(httpbinFoo, path("/source.trustDomain")), forbidden, ""},
		{"inline header element", req(httpbinFoo, path("/inline"), header("x-list", "a,b,c")), ok, ""},
		{"inline header no element", req(httpbinFoo, path("/inline"), header("x-list", "a,bb")), forbidden, ""},
		{"metadata string", req(httpbinFoo, path("/metadata"), meta), ok, ""},
		{"metadata absent", req(httpbinFoo, path("/metadata")), forbidden, ""},
		{"metadata list", req(httpbinFoo, path("/metadata-list"), meta), ok, ""},
		{"serviceAccounts in the policy namespace", req(httpbinFoo, path("/source-fields"), peer("cluster.local/ns/foo/sa/sleep")), ok, ""},
		{"serviceAccounts other namespace", req(httpbinFoo, path("/source-fields"), sleep), forbidden, ""},
		{"remoteIpBlocks", req(httpbinFoo, path("/remote-blocks"), remoteIP("198.51.100.1")), ok, ""},
		{"remoteIpBlocks with excluded source", req(httpbinFoo, path("/remote-blocks"), remoteIP("198.51.100.1"), srcIP("10.0.0.9")), forbidden, ""},
	})
}
