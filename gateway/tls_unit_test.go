package gateway

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/gateway/clienthello"
)

func TestTicketKeys(t *testing.T) {
	t.Parallel()
	k := newTicketKeys(time.Hour)
	now := time.Date(2025, 1, 1, 10, 30, 0, 0, time.UTC)
	e := k.epoch(now)
	if k.epoch(now.Add(29*time.Minute)) != e || k.epoch(now.Add(31*time.Minute)) != e+1 {
		t.Fatal("epochs do not follow the rotation interval")
	}
	cur, next := k.keys(e, "a"), k.keys(e+1, "a")
	if len(cur) != ticketKeysKept {
		t.Fatalf("%d keys, want %d", len(cur), ticketKeysKept)
	}
	// The next epoch encrypts with a new key and still decrypts with the current ones.
	if next[0] == cur[0] || next[1] != cur[0] || next[2] != cur[1] {
		t.Error("rotation does not keep the previous keys")
	}
	if k.keys(e, "b")[0] == cur[0] {
		t.Error("two scopes share a key")
	}
	if newTicketKeys(time.Hour).keys(e, "a")[0] == cur[0] {
		t.Error("two processes share a key")
	}
}

func TestSANMatches(t *testing.T) {
	t.Parallel()
	u, _ := url.Parse("spiffe://cluster.local/ns/a/sa/b")
	cert := &x509.Certificate{
		DNSNames: []string{"*.partner.example", "client.example.com"}, URIs: []*url.URL{u},
		EmailAddresses: []string{"ops@example.com"}, IPAddresses: []net.IP{net.ParseIP("10.1.2.3")},
	}
	tests := []struct {
		allowed []string
		want    bool
	}{
		{[]string{"spiffe://cluster.local/ns/a/sa/b"}, true},
		{[]string{"spiffe://cluster.local/ns/a/sa/c"}, false},
		{[]string{"client.example.com"}, true},
		{[]string{"CLIENT.example.com"}, true},
		{[]string{"x.partner.example"}, true},
		{[]string{"x.y.partner.example"}, false},
		{[]string{"partner.example"}, false},
		{[]string{"ops@example.com"}, true},
		{[]string{"10.1.2.3"}, true},
		{[]string{"10.1.2.4", "client.example.com"}, true},
		{[]string{"other.example.com"}, false},
	}
	for _, tt := range tests {
		if got := sanMatches(cert, tt.allowed); got != tt.want {
			t.Errorf("sanMatches(%v) = %v, want %v", tt.allowed, got, tt.want)
		}
	}
}

// xfccConn is a verified connection from a client certificate with the given SANs to a gateway
// certificate with URI SAN spiffe://cluster.local/ns/istio-system/sa/gw.
func xfccConn(t *testing.T, uris, dns []string) *connInfo {
	t.Helper()
	ca := newAuthority(t, "ca")
	client := ca.issue(t, leafSpec{cn: "client", client: true, uris: uris, dns: dns})
	local := ca.issue(t, leafSpec{cn: "gw", uris: []string{"spiffe://cluster.local/ns/istio-system/sa/gw"}})
	return &connInfo{
		local: &local.tls,
		peer:  newPeer(tls.ConnectionState{PeerCertificates: []*x509.Certificate{client.cert}, VerifiedChains: [][]*x509.Certificate{{client.cert, ca.cert}}}),
	}
}

func TestXFCC(t *testing.T) {
	t.Parallel()
	ci := xfccConn(t, []string{"spiffe://partner.example/ns/a/sa/b"}, []string{"a.example.com", "b.example.com"})
	elem := ci.xfccElement()
	const prior = "By=spiffe://edge;Hash=00"
	tests := []struct {
		mode  string
		ci    *connInfo
		prior string
		want  []string // nil: no header
	}{
		{mode: xfccSanitizeSet, ci: ci, prior: prior, want: []string{elem}},
		{mode: xfccSanitizeSet, ci: nil, prior: prior},
		{mode: xfccSanitize, ci: ci, prior: prior},
		{mode: xfccForwardOnly, ci: ci, prior: prior, want: []string{prior}},
		{mode: xfccForwardOnly, ci: nil, prior: prior},
		{mode: xfccAppendForward, ci: ci, prior: prior, want: []string{prior + "," + elem}},
		{mode: xfccAppendForward, ci: ci, want: []string{elem}},
		{mode: xfccAppendForward, ci: nil, prior: prior},
		{mode: xfccAlwaysForwardOnly, ci: nil, prior: prior, want: []string{prior}},
	}
	for _, tt := range tests {
		h := http.Header{}
		if tt.prior != "" {
			h.Set(xfccHeader, tt.prior)
		}
		applyXFCC(h, tt.mode, tt.ci)
		if got := h.Values(xfccHeader); fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s (peer %v, prior %q): %q, want %q", tt.mode, tt.ci != nil, tt.prior, got, tt.want)
		}
	}
	leaf := ci.peer.Certificate
	want := fmt.Sprintf(`By=spiffe://cluster.local/ns/istio-system/sa/gw;Hash=%x;Cert="%s";Subject="CN=client,O=Gatehouse Tests";URI=spiffe://partner.example/ns/a/sa/b;DNS=a.example.com;DNS=b.example.com`,
		sha256Sum(leaf.Raw), xfccEscapePEM(pemBlock("CERTIFICATE", leaf.Raw)))
	if elem != want {
		t.Errorf("element:\n%s\nwant:\n%s", elem, want)
	}
	if noURI := xfccConn(t, nil, nil).xfccElement(); !containsPart(noURI, "URI=") {
		t.Errorf("an element without URI SANs lacks the empty URI= Envoy writes: %s", noURI)
	}
}

func containsPart(elem, part string) bool {
	for _, p := range splitParts(elem) {
		if p == part {
			return true
		}
	}
	return false
}

func splitParts(elem string) []string {
	var out []string
	start := 0
	quoted := false
	for i := 0; i < len(elem); i++ {
		switch elem[i] {
		case '"':
			quoted = !quoted
		case ';':
			if !quoted {
				out = append(out, elem[start:i])
				start = i + 1
			}
		}
	}
	return append(out, elem[start:])
}

func TestPeer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		uris, dns []string
		want      string
	}{
		{uris: []string{"spiffe://cluster.local/ns/a/sa/b"}, dns: []string{"x.example.com"}, want: "cluster.local/ns/a/sa/b"},
		{uris: []string{"https://partner.example/client"}, want: "https://partner.example/client"},
		{dns: []string{"x.example.com"}, want: "x.example.com"},
		{want: "CN=client,O=Gatehouse Tests"},
	}
	for _, tt := range tests {
		ci := xfccConn(t, tt.uris, tt.dns)
		ctx := context.WithValue(context.Background(), connKey{}, ci)
		p, ok := PeerFrom(ctx)
		if !ok || p.Principal != tt.want {
			t.Errorf("principal of %v %v = %q, want %q", tt.uris, tt.dns, p.Principal, tt.want)
		}
	}
	if _, ok := PeerFrom(context.Background()); ok {
		t.Error("a plaintext request has a peer")
	}
	unverified := &connInfo{peer: newPeer(tls.ConnectionState{PeerCertificates: []*x509.Certificate{{Subject: pkix.Name{CommonName: "x"}}}})}
	if _, ok := PeerFrom(context.WithValue(context.Background(), connKey{}, unverified)); ok {
		t.Error("an unverified certificate is a peer")
	}
}

func TestHandshakeReason(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want string
	}{
		{&missingCredentialError{resource: "kubernetes://x"}, reasonMissingCredential},
		{errNoCredentials, reasonMissingCredential},
		{&badClientCertError{reason: "revoked"}, reasonBadClientCert},
		{&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}, reasonBadClientCert},
		{errors.New("tls: client didn't provide a certificate"), reasonNoClientCert},
		{errors.New("tls: client offered only unsupported versions: [303]"), reasonProtocolVersion},
		{errors.New("tls: no cipher suite supported by both client and server"), reasonCipher},
		{errors.New("tls: client requested unsupported application protocols ([x])"), reasonALPN},
		{errors.New("remote error: tls: bad certificate"), reasonClientRejected},
		{fmt.Errorf("read: %w", os.ErrDeadlineExceeded), reasonTimeout},
		{context.Canceled, reasonClientClosed},
		{errors.New("something else"), reasonOther},
	}
	for _, tt := range tests {
		if got := handshakeReason(tt.err); got != tt.want {
			t.Errorf("handshakeReason(%v) = %s, want %s", tt.err, got, tt.want)
		}
	}
	for err, want := range map[error]string{
		clienthello.ErrTimeout: reasonTimeout,
		clienthello.ErrNotTLS:  reasonNotTLS,
		errors.New("EOF"):      reasonClientClosed,
	} {
		if got := peekReason(err); got != want {
			t.Errorf("peekReason(%v) = %s, want %s", err, got, want)
		}
	}
}

func TestFilterChainSelection(t *testing.T) {
	t.Parallel()
	l := &Listener{FilterChains: []*FilterChain{
		{Server: "exact", ServerNames: []string{"shop.example.com"}},
		{Server: "wild", ServerNames: []string{"*.example.com"}},
		{Server: "deeper", ServerNames: []string{"*.eu.example.com"}},
		{Server: "any", ServerNames: []string{"*"}},
	}}
	l.index()
	for sni, want := range map[string]string{
		"shop.example.com":  "exact",
		"a.example.com":     "wild",
		"a.b.example.com":   "wild",
		"a.eu.example.com":  "deeper",
		"example.com":       "any",
		"":                  "any",
		"other.example.org": "any",
	} {
		if got := l.filterChain(sni); got == nil || got.Server != want {
			t.Errorf("filterChain(%q) = %v, want %s", sni, got, want)
		}
	}
	noAny := &Listener{FilterChains: []*FilterChain{{Server: "exact", ServerNames: []string{"shop.example.com"}}}}
	noAny.index()
	if got := noAny.filterChain(""); got != nil {
		t.Errorf("no SNI without a \"*\" server selects %s", got.Server)
	}
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }
