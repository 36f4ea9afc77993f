// Package kubeca is the workload CA's Kubernetes side, as istiod's: it authenticates callers by
// their projected service-account tokens (TokenReview), keeps the CA's root in a Secret,
// publishes the trust bundle to every namespace as ConfigMap istio-ca-root-cert, and runs those
// cluster-wide singletons under Lease-based leader election so several replicas are safe.
//
// It owns no key material and issues nothing: package ca signs. It must not read Secrets other
// than the CA's own two (istio-ca-secret, cacerts) in the CA's namespace.
package kubeca
