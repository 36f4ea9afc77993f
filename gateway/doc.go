// Package gateway owns Gatehouse's data plane: it compiles a policy.Snapshot into an immutable
// routing Table (Gateways selected by this workload's labels, their servers per port, the
// VirtualServices bound to them, ServiceEntry upstreams), installs it with one atomic swap, and
// keeps one listener per server port alive across reloads. Plaintext HTTP ports are proxied
// with Envoy's local replies and Istio's routing semantics; TLS ports peek the ClientHello and
// select a filter chain by SNI, then terminate (SIMPLE, MUTUAL, OPTIONAL_MUTUAL) and serve HTTP
// or proxy bytes, or pass the TLS bytes through untouched; TCP ports proxy bytes. Every request
// path is normalized once here (MeshConfig pathNormalization) and the client address decided
// once (gatewayTopology: numTrustedProxies, PROXY protocol); RequestInfoFrom hands both to
// authorization, logs and metrics so that they see what the routing saw.
//
// It must not touch the config model (package policy decodes and validates; this package only
// reads Snapshots) or authorization decisions (made by authz). It reads TLS credentials from an
// sds.Store at handshake time, never changes the store, and never logs key material. Nothing
// here mutates a published Table.
package gateway
