package authz

import "testing"

// Istio's rule for TCP filter chains (pilot/pkg/security/authz/model: checkError): an HTTP-only
// field makes an ALLOW rule drop entirely (fail closed), while a DENY, AUDIT or CUSTOM rule just
// ignores that field, so it matches more (also fail closed).
func TestTCPHTTPOnlyFields(t *testing.T) {
	t.Parallel()
	e := newEngine(t, Options{}, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow, namespace: foo}
spec:
  rules:
  - from:
    - source: {principals: ["cluster.local/ns/foo/sa/a"]}
    to:
    - operation: {methods: ["GET"], ports: ["9000"]}
  - from:
    - source: {principals: ["cluster.local/ns/foo/sa/b"]}
  - from:
    - source: {principals: ["cluster.local/ns/foo/sa/c"]}
    - source: {requestPrincipals: ["*"]}
  - from:
    - source: {principals: ["cluster.local/ns/foo/sa/d"]}
    when:
    - key: request.headers[x-user]
      notValues: ["bad"]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny, namespace: foo}
spec:
  action: DENY
  rules:
  - from:
    - source: {principals: ["cluster.local/ns/foo/sa/evil"]}
    to:
    - operation: {paths: ["/admin"]}
  - from:
    - source: {notRequestPrincipals: ["*"], namespaces: ["blocked"]}
  - to:
    - operation: {hosts: ["blocked.example"], ports: ["7000"]}
`)
	runChecks(t, e, []check{
		// ALLOW: rules 0, 2 and 3 use HTTP-only fields, so on TCP only rule 1 remains.
		{"TCP a (rule with methods dropped)", req(httpbinFoo, tcp, peer("cluster.local/ns/foo/sa/a"), port(9000)), forbidden, "-"},
		{"HTTP a", req(httpbinFoo, peer("cluster.local/ns/foo/sa/a"), port(9000)), ok, "ns[foo]-policy[allow]-rule[0]"},
		{"TCP b", req(httpbinFoo, tcp, peer("cluster.local/ns/foo/sa/b")), ok, "ns[foo]-policy[allow]-rule[1]"},
		{"TCP c (one from has requestPrincipals: whole rule dropped)", req(httpbinFoo, tcp, peer("cluster.local/ns/foo/sa/c")), forbidden, "-"},
		{"HTTP c", req(httpbinFoo, peer("cluster.local/ns/foo/sa/c")), ok, "ns[foo]-policy[allow]-rule[2]"},
		{"TCP d (when header dropped)", req(httpbinFoo, tcp, peer("cluster.local/ns/foo/sa/d")), forbidden, "-"},
		{"HTTP d", req(httpbinFoo, peer("cluster.local/ns/foo/sa/d")), ok, "ns[foo]-policy[allow]-rule[3]"},
		// DENY: paths ignored on TCP, so evil is denied on any connection.
		{"TCP evil", req(httpbinFoo, tcp, peer("cluster.local/ns/foo/sa/evil")), forbidden, "ns[foo]-policy[deny]-rule[0]"},
		{"HTTP evil elsewhere", req(httpbinFoo, peer("cluster.local/ns/foo/sa/evil"), path("/x")), forbidden, "-"},
		// DENY: notRequestPrincipals ignored on TCP, so the namespace alone decides.
		{"TCP from blocked namespace", req(httpbinFoo, tcp, peer("cluster.local/ns/blocked/sa/b")), forbidden, "ns[foo]-policy[deny]-rule[1]"},
		// DENY: hosts ignored on TCP, the port decides.
		{"TCP port 7000", req(httpbinFoo, tcp, peer("cluster.local/ns/foo/sa/b"), port(7000)), forbidden, "ns[foo]-policy[deny]-rule[2]"},
		{"HTTP port 7000 other host", req(httpbinFoo, peer("cluster.local/ns/foo/sa/b"), port(7000)), ok, "ns[foo]-policy[allow]-rule[1]"},
	})
}

func TestTCPAllowOnlyHTTPRulesDeniesAll(t *testing.T) {
	t.Parallel()
	e := newEngine(t, Options{}, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: http-only, namespace: foo}
spec:
  rules:
  - to:
    - operation: {methods: ["GET"], ports: ["27017"]}
`)
	runChecks(t, e, []check{
		{"TCP", req(httpbinFoo, tcp, port(27017)), forbidden, "-"},
		{"HTTP", req(httpbinFoo, port(27017)), ok, ""},
	})
}

func TestTCPAuditWidens(t *testing.T) {
	t.Parallel()
	e := newEngine(t, Options{}, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: audit, namespace: foo}
spec:
  action: AUDIT
  rules:
  - to:
    - operation: {paths: ["/secret"]}
`)
	if d := e.Check(t.Context(), req(httpbinFoo, tcp)); !d.Allowed || !d.Audited {
		t.Fatalf("TCP: %+v, want allowed and audited", d)
	}
	if d := e.Check(t.Context(), req(httpbinFoo, path("/open"))); !d.Allowed || d.Audited {
		t.Fatalf("HTTP /open: %+v, want allowed, not audited", d)
	}
}
