// Package authz owns Gatehouse's authorization engine: it compiles the AuthorizationPolicy and
// RequestAuthentication resources of a policy.Snapshot into per-workload native matchers and answers
// Check(ctx, *Request) with Istio's decisions (CUSTOM, then DENY, then ALLOW, with AUDIT recorded),
// the way Envoy's jwt_authn and RBAC filters would for the config istiod generates.
//
// JWT verification (RequestAuthentication) lives in authz/jwt; this package only selects which
// RequestAuthentication resources apply to a workload and reads the verified identity.
//
// It must not touch the network, protobuf or YAML on the request path, and it does not serve any
// protocol: the gateway calls Engine.Check in-process, and the ext_authz gRPC/HTTP servers are thin
// adapters that build a Request.
package authz
