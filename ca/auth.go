package ca

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
)

// authenticate returns the caller's identity, in Istio's order: a client certificate verified
// against the trust bundle during the handshake (a workload renewing), then a bootstrap token
// in `authorization: Bearer <token>` (on Kubernetes also a service-account token: the
// TokenRedeemer is then ca/kubeca's Chain). The error is for the log only.
func (s *Server) authenticate(ctx context.Context) (Identity, error) {
	var certErr error
	if p, ok := peer.FromContext(ctx); ok {
		if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(ti.State.VerifiedChains) > 0 {
			id, err := s.certIdentity(ti.State.VerifiedChains[0][0])
			if err == nil {
				return id, nil
			}
			certErr = err
		}
	}
	token := bearerToken(ctx)
	switch {
	case token == "" && certErr != nil:
		return Identity{}, certErr
	case token == "":
		return Identity{}, errors.New("no client certificate and no bearer token")
	case s.tokens == nil:
		return Identity{}, errors.New("bearer token given but no bootstrap tokens are configured")
	}
	id, err := s.tokens.Redeem(ctx, token)
	if err != nil {
		return Identity{}, fmt.Errorf("bearer token: %w", err)
	}
	return id, nil
}

// certIdentity reads the identity of a verified client certificate: exactly one URI SAN, a
// SPIFFE ID in the trust domain or an alias. The identity is mapped to the primary trust
// domain, which is the one the renewed certificate is issued in.
func (s *Server) certIdentity(leaf *x509.Certificate) (Identity, error) {
	if len(leaf.URIs) != 1 {
		return Identity{}, fmt.Errorf("client certificate has %d URI SANs, want exactly one SPIFFE ID", len(leaf.URIs))
	}
	id, err := ParseSPIFFE(leaf.URIs[0].String())
	if err != nil {
		return Identity{}, fmt.Errorf("client certificate: %w", err)
	}
	if !s.a.isTrustDomain(id.TrustDomain) {
		return Identity{}, fmt.Errorf("client certificate %s: trust domain %q is neither %q nor an alias", id, id.TrustDomain, s.a.TrustDomain())
	}
	id.TrustDomain = s.a.TrustDomain()
	return id, nil
}

// bearerToken returns the token of the first `authorization: Bearer` metadata value.
func bearerToken(ctx context.Context) string {
	md, _ := metadata.FromIncomingContext(ctx)
	for _, v := range md.Get("authorization") {
		if len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
			return strings.TrimSpace(v[7:])
		}
	}
	return ""
}

// ErrNotMeshPeer is PeerIdentity's answer for a TLS peer that presented no workload
// certificate of this mesh.
var ErrNotMeshPeer = errors.New("no workload certificate of this mesh")

// PeerIdentity is the workload a gRPC peer proved it is with its client certificate, for the
// other services on the CA's port (xDS). ok is false for a peer not on TLS (a local,
// plaintext listener), which is no remote peer at all.
func (s *Server) PeerIdentity(ctx context.Context) (id Identity, ok bool, err error) {
	p, found := peer.FromContext(ctx)
	if !found {
		return Identity{}, false, nil
	}
	ti, isTLS := p.AuthInfo.(credentials.TLSInfo)
	if !isTLS {
		return Identity{}, false, nil
	}
	if len(ti.State.VerifiedChains) == 0 {
		return Identity{}, true, ErrNotMeshPeer
	}
	id, err = s.certIdentity(ti.State.VerifiedChains[0][0])
	if err != nil {
		return Identity{}, true, fmt.Errorf("%w: %v", ErrNotMeshPeer, err)
	}
	return id, true, nil
}
