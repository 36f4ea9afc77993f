// Package extauthz serves the authz engine as Envoy's external authorization service, and asks a
// remote one. The servers are thin adapters: they turn what Envoy sends into an authz.Request,
// call an authz.Checker (the in-process Engine), and turn the authz.Decision into Envoy's answer.
// The Client does the inverse, so a gateway asks a remote Gatehouse (or any ext_authz v3 server)
// the same way it asks its own Engine.
//
// # gRPC (envoy.service.auth.v3.Authorization/Check)
//
// The policies that apply are those of one workload, chosen per request:
//
//   - context_extensions, which Envoy users set per route with
//     ExtAuthzPerRoute.check_settings.context_extensions (or per filter in the gateway's config):
//     "namespace" (the workload's namespace), "labels" ("app=httpbin,version=v1", as the
//     workload's pod labels, matched by selector.matchLabels) and "services" ("httpbin,other",
//     the Services selecting it, matched by a targetRef of kind Service). Any of them set names
//     the workload; a missing namespace then comes from the destination principal, else the
//     default workload's;
//   - else the namespace of the destination principal (spiffe://<td>/ns/<ns>/sa/<sa>), with no
//     labels, so only namespace-wide and mesh-wide policies apply;
//   - else the default workload given to NewServer; without one the request is denied.
//
// Paths are split from their query and normalized per MeshConfig pathNormalization exactly as
// the gateway does (policy/pathnorm); a path that cannot be normalized is denied with 400, as
// Envoy answers it. Headers are Envoy's lower-case map (or header_map with encode_raw_headers);
// the source principal is the peer's SPIFFE URI SAN without "spiffe://" (a non-SPIFFE principal is
// no principal), from source.principal or else the URL-encoded PEM source.certificate; remote.ip
// is taken from x-forwarded-for per gatewayTopology.numTrustedProxies, as the gateway does. A
// CheckRequest without request.http (Envoy's network ext_authz filter) is checked as TCP.
//
// An allowed request is answered with status OK and an ok_response whose headers (claims and
// payload to headers) use append_action OVERWRITE_IF_EXISTS_OR_ADD, the meaning Envoy gives to
// ok_response headers with append unset in older releases, and whose headers_to_remove removes the
// token unless forwardOriginalToken. A denial is answered with a denied_response carrying the
// HTTP status, headers (www-authenticate) and the reason as body, and status UNAUTHENTICATED for
// 401, PERMISSION_DENIED for 403, INVALID_ARGUMENT for 400 and UNAVAILABLE for 5xx: Envoy only
// reads OK or not OK, and an error_response is never used, since Envoy's failure_mode_allow
// could turn it into an allow. dynamic_metadata (which Envoy publishes under
// envoy.filters.http.ext_authz) holds:
//
//	decision                   "allow" or "deny"
//	status                     the HTTP status (number)
//	reason                     the denial reason, on a denial
//	policy                     the rule that decided, "ns[<ns>]-policy[<name>]-rule[<i>]"
//	request_principal          the JWT's iss/sub, when a token verified
//	audit_policy               the AUDIT policy that matched
//	shadow_engine_result       "allowed" or "denied", when istio.io/dry-run policies apply
//	shadow_effective_policy_id the dry-run rule that decided (Envoy RBAC's shadow keys)
//
// The gRPC server also serves grpc.health.v1 (SERVING once a config is applied) and reflection.
//
// # HTTP (Envoy's http_service)
//
// Envoy sends the original method, path_prefix + the original path and query, and the headers
// its allowed_headers lets through. 200 allows: the upstream header changes are response headers
// (Envoy copies those listed in allowed_upstream_headers) and the headers to remove are listed in
// x-envoy-auth-headers-to-remove. Any other status denies with its headers and body. What Envoy
// cannot send in this mode is read from headers: the scheme from x-forwarded-proto; the source
// address from the last x-forwarded-for entry (the peer an Envoy with use_remote_address
// appends), and none without it; the source principal from the URI of the last
// x-forwarded-client-cert element; and the workload from x-gatehouse-namespace,
// x-gatehouse-labels and x-gatehouse-services, which must be set with
// authorization_request.headers_to_add and never let through from clients. The destination
// address and port are unknown, so port and destination.ip conditions never match there.
//
// It must not hold policy logic: what a request is allowed to do is decided by the Checker.
package extauthz
