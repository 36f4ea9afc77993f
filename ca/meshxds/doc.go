// Package meshxds turns a workload's mTLS posture into the Envoy resources an Istio sidecar
// expects: the "virtualInbound" Listener with Istio's filter chains per port and mode, and the
// inbound Clusters to the app. Its Cache plugs those into the one xDS server (sds.Server, through
// ServerOptions.Caches), so Envoy sidecars and `gatehouse sidecar` read the same answer.
//
// It owns the translation (policy.Snapshot → per-proxy snapshot) and the sidecar bootstrap; it
// does not decide the mode (ca/posture does), serve secrets (sds does), or proxy traffic
// (gateway does). No Envoy binary runs in this project's tests, so the compatibility claim rests
// on go-control-plane's protos, ValidateAll, golden files and an ADS client built on the same
// protos.
package meshxds
