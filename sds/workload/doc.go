// Package workload, a credential source of sds, is the workload secret manager: it mints a key
// and a CSR, obtains the certificate from the mesh CA (in-process or over Istio's
// IstioCertificateService), puts it in the sds.Store under Istio's SDS names "default" (the
// workload's certificate chain and key) and "ROOTCA" (the trust bundle), and rotates it before
// it expires, as istio-agent's SecretManager does for Envoy.
//
// While the CA is unreachable it keeps serving the certificate it has and retries with backoff.
// It never logs key material. It does not decide identities: the CA takes those from how the
// caller authenticated, never from the CSR.
package workload
