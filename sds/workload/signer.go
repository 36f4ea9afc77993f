package workload

import (
	"context"
	"time"

	"github.com/gatehouse-dev/gatehouse/ca"
)

// Signer obtains a certificate for a CSR: the chain as PEM, leaf first and root last, as
// IstioCertificateService returns cert_chain. ttl is the validity asked for; the CA may grant
// less.
type Signer interface {
	CreateCertificate(ctx context.Context, csrPEM []byte, ttl time.Duration) ([]string, error)
}

// caWatcher is what a Signer may also know about its CA, as an in-process one does: the whole
// trust bundle (several roots while a root rotates with overlap) and when the CA changes (a
// plug-in CA swapped), so the Manager republishes the bundle and re-issues at once.
type caWatcher interface {
	trustBundle() []byte
	changed() <-chan struct{}
}

// identityHint is implemented by a Signer that knows the identity it will be issued, so the CSR
// can ask for it as istio-agent's does. The CA ignores what a CSR asks for either way.
type identityHint interface {
	spiffeID() string
}

// Local signs with an in-process Authority for identity id: the embedded mode of `gatehouse
// run`, where the process proves its identity by being the CA's process.
func Local(a *ca.Authority, id ca.Identity) Signer { return localSigner{a: a, id: id} }

type localSigner struct {
	a  *ca.Authority
	id ca.Identity
}

var (
	_ caWatcher    = localSigner{}
	_ identityHint = localSigner{}
)

func (l localSigner) CreateCertificate(ctx context.Context, csrPEM []byte, ttl time.Duration) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return l.a.Sign(csrPEM, l.id, ttl)
}

func (l localSigner) trustBundle() []byte      { return l.a.RootsPEM() }
func (l localSigner) changed() <-chan struct{} { return l.a.Changed() }
func (l localSigner) spiffeID() string         { return l.id.SPIFFE() }
