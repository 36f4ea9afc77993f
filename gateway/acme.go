package gateway

import (
	"crypto/tls"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/gateway/clienthello"
)

// acmeTLSProtocol is the ALPN protocol of a TLS-ALPN-01 validation (RFC 8737 §6.2).
const acmeTLSProtocol = "acme-tls/1"

// acmeHTTPPrefix is where HTTP-01 tokens are fetched (RFC 8555 §8.3).
const acmeHTTPPrefix = "/.well-known/acme-challenge/"

// acmeHTTP answers an HTTP-01 validation request ahead of routing and authorization: the CA
// fetches the token over plain HTTP on port 80, before any route or policy knows of it.
func (g *Gateway) acmeHTTP(w http.ResponseWriter, r *http.Request) bool {
	return g.opts.ACME != nil && strings.HasPrefix(r.URL.Path, acmeHTTPPrefix) && g.opts.ACME.HTTPChallenge(w, r)
}

// acmeTLSALPN completes a TLS-ALPN-01 validation handshake when the ClientHello offers
// acme-tls/1 for a name with a pending challenge, whatever filter chain the name has: the
// challenge comes before the certificate it is for exists. The CA closes the connection after
// the handshake (RFC 8737 §3), and so does the gateway. It reports whether it took the connection.
func (g *Gateway) acmeTLSALPN(raw net.Conn, hello clienthello.Hello, prefix []byte, sni string) bool {
	if g.opts.ACME == nil || !slices.Contains(hello.ALPN, acmeTLSProtocol) {
		return false
	}
	cert, ok := g.opts.ACME.TLSALPNCertificate(&tls.ClientHelloInfo{ServerName: sni, SupportedProtos: hello.ALPN})
	if !ok {
		return false
	}
	tc := tls.Server(clienthello.Replay(raw, prefix), &tls.Config{
		Certificates: []tls.Certificate{*cert},
		NextProtos:   []string{acmeTLSProtocol},
	})
	_ = raw.SetDeadline(time.Now().Add(g.opts.ClientHelloTimeout))
	if err := tc.Handshake(); err != nil {
		g.log.Debug("ACME TLS-ALPN-01 validation handshake failed", "remote", raw.RemoteAddr().String(), "sni", sni, "error", err)
	}
	_ = tc.Close()
	return true
}
