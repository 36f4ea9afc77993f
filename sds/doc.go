// Package sds owns credentials: a versioned Store that sources (config files, Kubernetes Secrets,
// the CA) write into and that the gateway and the SDS gRPC server read from.
//
// Secret data lives only here. Nothing in this package logs or prints key material; listings
// carry names and versions only.
package sds
