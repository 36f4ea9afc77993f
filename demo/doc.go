// Package demo owns the `gatehouse demo-backend` upstream: an httpbin-like echo server that the
// quickstart, the tests and the benchmarks put behind the gateway.
//
// One listener serves HTTP/1.1, HTTP/2 with prior knowledge (h2c) and gRPC, chosen per request by
// protocol and content-type, plus a WebSocket echo. Every response names the backend (JSON field
// "backend", HTTP header and gRPC header metadata "x-backend-name") so traffic splits are visible.
//
// It is a test peer, not part of the edge: it must not import the gateway, policy, authz, ca or sds
// packages, and nothing in the edge may depend on it.
package demo
