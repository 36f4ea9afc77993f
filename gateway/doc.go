// Package gateway owns Gatehouse's data plane for HTTP: it compiles a policy.Snapshot into an
// immutable routing Table (Gateways selected by this workload's labels, their servers per port,
// the VirtualServices bound to them, ServiceEntry upstreams), installs it with one atomic swap,
// keeps one listener per server port alive across reloads, and proxies requests to upstreams
// over pooled transports, with Envoy's local replies and Istio's routing semantics.
//
// It must not touch the config model (package policy decodes and validates; this package only
// reads Snapshots), Secret data or TLS credentials (served by sds), or authorization decisions
// (made by authz). Nothing here mutates a published Table.
package gateway
