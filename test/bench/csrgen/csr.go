package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"net/url"
)

// istioRequest is istio.v1.auth.IstioCertificateRequest in the JSON ghz reads (proto field
// names); metadata is left out, as istio-agent leaves it.
type istioRequest struct {
	CSR              string `json:"csr"`
	ValidityDuration int64  `json:"validity_duration"`
}

// cfsslRequest is the body of cfssl's /api/v1/cfssl/sign: with no "hosts", cfssl takes the
// names in the CSR.
type cfsslRequest struct {
	CertificateRequest string `json:"certificate_request"`
}

// newCSRs returns n PEM CSRs, each with its own P-256 key, shaped like istio-agent's: the SPIFFE
// ID of workload i as the one URI SAN. The Gatehouse CA ignores the names (the identity comes
// from the caller's token); cfssl signs what the CSR asks, so a DNS name gives it something to put
// in the certificate as well.
func newCSRs(random io.Reader, n int) ([]string, error) {
	out := make([]string, 0, n)
	for i := range n {
		key, err := ecdsa.GenerateKey(elliptic.P256(), random)
		if err != nil {
			return nil, fmt.Errorf("csr %d: key: %w", i, err)
		}
		sa := fmt.Sprintf("sa-%d", i)
		tmpl := &x509.CertificateRequest{
			Subject:  pkix.Name{CommonName: sa + ".bench.svc", Organization: []string{"cluster.local"}},
			DNSNames: []string{sa + ".bench.svc"},
			URIs:     []*url.URL{{Scheme: "spiffe", Host: "cluster.local", Path: "/ns/bench/sa/" + sa}},
		}
		der, err := x509.CreateCertificateRequest(random, tmpl, key)
		if err != nil {
			return nil, fmt.Errorf("csr %d: %w", i, err)
		}
		out = append(out, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})))
	}
	return out, nil
}

func istioRequests(csrs []string, validity int64) []istioRequest {
	out := make([]istioRequest, len(csrs))
	for i, c := range csrs {
		out[i] = istioRequest{CSR: c, ValidityDuration: validity}
	}
	return out
}
