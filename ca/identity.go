package ca

import (
	"errors"
	"fmt"
	"strings"
)

// Identity is a workload identity: spiffe://<TrustDomain>/ns/<Namespace>/sa/<ServiceAccount>,
// the form istiod issues and Istio's secure naming checks.
type Identity struct{ TrustDomain, Namespace, ServiceAccount string }

// SPIFFE returns the identity's SPIFFE ID, the one URI SAN of its certificate.
func (id Identity) SPIFFE() string {
	return "spiffe://" + id.TrustDomain + "/ns/" + id.Namespace + "/sa/" + id.ServiceAccount
}

func (id Identity) String() string { return id.SPIFFE() }

const spiffeScheme = "spiffe://"

// ParseSPIFFE parses exactly spiffe://td/ns/x/sa/y. It is strict because its result becomes
// the identity a certificate is issued for: no query, fragment, port, user info, empty or
// dot segments, percent-encoding, or extra path segments.
func ParseSPIFFE(uri string) (Identity, error) {
	rest, ok := strings.CutPrefix(uri, spiffeScheme)
	if !ok {
		return Identity{}, fmt.Errorf("spiffe id %q: scheme must be spiffe://", uri)
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 5 || parts[1] != "ns" || parts[3] != "sa" {
		return Identity{}, fmt.Errorf("spiffe id %q: want spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>", uri)
	}
	id := Identity{TrustDomain: parts[0], Namespace: parts[2], ServiceAccount: parts[4]}
	if err := validTrustDomain(id.TrustDomain); err != nil {
		return Identity{}, fmt.Errorf("spiffe id %q: trust domain: %w", uri, err)
	}
	if err := validSegment(id.Namespace); err != nil {
		return Identity{}, fmt.Errorf("spiffe id %q: namespace: %w", uri, err)
	}
	if err := validSegment(id.ServiceAccount); err != nil {
		return Identity{}, fmt.Errorf("spiffe id %q: service account: %w", uri, err)
	}
	return id, nil
}

// validTrustDomain follows the SPIFFE ID spec: lowercase letters, digits, '.', '-', '_'.
func validTrustDomain(td string) error {
	if td == "" {
		return errors.New("empty")
	}
	for _, c := range td {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '.', c == '-', c == '_':
		default:
			return fmt.Errorf("%q: character %q not allowed", td, c)
		}
	}
	return nil
}

// validSegment follows the SPIFFE path-segment rule (letters, digits, '.', '-', '_'; not "."
// or ".."), which admits every Kubernetes namespace and service-account name.
func validSegment(s string) error {
	if s == "" {
		return errors.New("empty")
	}
	if s == "." || s == ".." {
		return fmt.Errorf("%q not allowed", s)
	}
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '-', c == '_':
		default:
			return fmt.Errorf("%q: character %q not allowed", s, c)
		}
	}
	return nil
}
