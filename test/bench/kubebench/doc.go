// Package kubebench is the Kubernetes part of `make bench` (issue 11), run by test/bench/kube.sh
// as `go test -tags bench`: against a real API server from test/peers/kubepeer and the gatehouse
// binary it is given, it measures how long a Secret update accepted by the API server takes to
// reach new TLS handshakes, and how long 1,000 AuthorizationPolicies applied at once take to be
// enforced. Without the bench tag it holds no tests, so `go test ./...` does not run it.
package kubebench
