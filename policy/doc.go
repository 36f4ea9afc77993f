// Package policy owns Gatehouse's config model: it loads Istio and Gatehouse resources from a
// directory (strict decoding into istio.io/api types), validates them as Istio does, analyses them
// across resources, orders them as Istio would, and publishes immutable, versioned Snapshots to the
// components that compile them.
//
// It must not touch Secret data: Secrets are handed to a CredentialSink (the sds.Store) and only
// their names enter a Snapshot. It does not know how any component uses a Snapshot.
package policy
