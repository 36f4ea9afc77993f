// Package ca is the workload certificate authority: it keeps the signing key (a bootstrapped
// root or a plug-in CA in Istio's cacerts layout), issues SPIFFE leaf certificates for
// identities its callers have proved, and serves Istio's IstioCertificateService so an
// istio-agent (or Gatehouse's own secret manager) can obtain them.
//
// It owns the CA key material, the trust bundle and the bootstrap-token ledger. It must not
// decide which workloads exist or what they may reach: identities come from authenticated
// callers only, never from the CSR.
package ca
