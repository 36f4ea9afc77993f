// Package acmecert, a credential source of sds, obtains and renews certificates from ACME CAs
// (RFC 8555) for the hosts an ACMEIssuer names, answers the CA's HTTP-01 and TLS-ALPN-01
// challenges when the gateway hands it the requests, and puts the certificates into the
// sds.Store under the issuer's credentialName, so SNI selection and SDS serve them like any
// other Secret.
//
// It never orders a name outside an issuer's hosts, never orders the same certificate twice
// across replicas sharing a Cache (a lock in the Cache guards each order), and backs off
// between failures so a broken issuer cannot exhaust a CA's rate limits. It does not route
// requests or own listeners: the gateway calls HTTPChallenge and TLSALPNCertificate.
package acmecert
