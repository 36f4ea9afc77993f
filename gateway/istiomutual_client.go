package gateway

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"slices"
)

// istioMutualConfig completes cfg for an ISTIO_MUTUAL upstream as Istio's cluster TLS context
// does: the mesh certificate (SDS default) as client certificate, the server verified against
// the mesh roots (SDS ROOTCA) with no host name check, and secure naming in its place. Both are
// read from the store at every dial, so a rotated identity or bundle serves the next connection.
func (d *tlsDialer) istioMutualConfig(cfg *tls.Config) (*tls.Config, error) {
	if d.store == nil {
		return nil, fmt.Errorf("ISTIO_MUTUAL: %w", errNoCredentials)
	}
	cert, ok := d.store.Get(meshCertificate)
	if !ok || cert.Certificate == nil {
		return nil, &missingCredentialError{resource: meshCertificate, what: "mesh client certificate"}
	}
	roots, ok := d.store.Get(meshRoots)
	if !ok || roots.Roots == nil {
		return nil, &missingCredentialError{resource: meshRoots, what: "mesh trust bundle"}
	}
	cfg.Certificates = []tls.Certificate{*cert.Certificate}
	// Go would check the SNI (outbound_...) against the certificate; Envoy checks only the chain
	// and the subject alt names Istio configures.
	cfg.InsecureSkipVerify = true
	cfg.VerifyConnection = verifyMeshServer(roots.Roots, d.tls.SubjectAltNames)
	return cfg, nil
}

// secureNamingError is a mesh server whose identity is not the destination service's.
type secureNamingError struct {
	got  []string
	want []string
}

func (e *secureNamingError) Error() string {
	return fmt.Sprintf("secure naming: server identity %v is not one of the service's %v", e.got, e.want)
}

// verifyMeshServer verifies the server chain against the mesh roots and, when the service has
// identities, requires one of them among the leaf's SANs (exact, as Istio configures Envoy's
// match_subject_alt_names; SPIFFE IDs are URI SANs). With none, Istio configures no SAN
// match, so any certificate the mesh roots issued is accepted.
func verifyMeshServer(roots *x509.CertPool, ids []string) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		// Workload certificates are for client and server auth; Envoy does not check the
		// extended key usage of an upstream, so neither does this.
		leaf, err := verifyChain(cs, roots, []x509.ExtKeyUsage{x509.ExtKeyUsageAny})
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		if sanMatches(leaf, ids) {
			return nil
		}
		got := leaf.DNSNames
		for _, u := range leaf.URIs {
			got = append(slices.Clip(got), u.String())
		}
		return &secureNamingError{got: got, want: ids}
	}
}
