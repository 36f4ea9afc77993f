// Package session keeps the server-side state of OIDC browser logins: sessions, keyed by the
// opaque random id in the session cookie, and login attempts, keyed by the `state` parameter of
// one authorization request. No token ever goes in a cookie; it lives here.
//
// Store is the interface the login flow uses; Memory is the default, one-process implementation.
// A Redis implementation shares the same contract between replicas. This package does no HTTP,
// no OIDC and no cryptography beyond generating ids: the flow owns those.
package session
