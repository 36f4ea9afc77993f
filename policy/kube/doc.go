// Package kube is the Kubernetes config source: it watches the API server through client-go
// informers (Istio and Gatehouse kinds, the `istio` MeshConfig ConfigMap, Services with their
// EndpointSlices and Pods, and the referenced Secrets of the gateway's namespace), renders what it
// sees as YAML, and feeds it through policy.Parse, so a cluster yields the same Snapshots as a
// config directory.
//
// It must not read Secrets outside the gateway's namespace, nor hand Secret data to anything but
// the CredentialSink. It does not know how any component uses a Snapshot.
package kube
