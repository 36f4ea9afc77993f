package gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"net/http"
	"strings"
)

// xfccHeader is Envoy's x-forwarded-client-cert, in canonical form.
const xfccHeader = "X-Forwarded-Client-Cert"

// Values of Table.ForwardClientCert (MeshConfig's ForwardClientCertDetails names).
const (
	xfccSanitize          = "SANITIZE"
	xfccForwardOnly       = "FORWARD_ONLY"
	xfccAppendForward     = "APPEND_FORWARD"
	xfccSanitizeSet       = "SANITIZE_SET"
	xfccAlwaysForwardOnly = "ALWAYS_FORWARD_ONLY"
)

// applyXFCC sets x-forwarded-client-cert on an upstream request as Envoy's connection manager
// does for forward_client_cert_details mode: a client-sent header is only ever passed on by the
// forwarding modes, and by those only over mutual TLS (ALWAYS_FORWARD_ONLY excepted).
func applyXFCC(h http.Header, mode string, ci *connInfo) {
	if mode == xfccAlwaysForwardOnly {
		return
	}
	if mode == xfccSanitize || ci == nil || ci.peer == nil {
		delete(h, xfccHeader)
		return
	}
	switch mode {
	case xfccForwardOnly:
	case xfccAppendForward:
		if prior := h.Values(xfccHeader); len(prior) > 0 {
			h[xfccHeader] = []string{strings.Join(prior, ",") + "," + ci.xfccElement()}
			return
		}
		h[xfccHeader] = []string{ci.xfccElement()}
	default: // SANITIZE_SET
		h[xfccHeader] = []string{ci.xfccElement()}
	}
}

// xfccElement is this connection's XFCC element with the details Istio asks of a gateway's
// Envoy (Subject, Cert, URI, DNS), in Envoy's order: By (the URI SANs of the gateway's
// certificate), Hash, Cert, Subject, URI, DNS.
func (ci *connInfo) xfccElement() string {
	ci.xfccOnce.Do(func() { ci.xfcc = xfccElement(ci) })
	return ci.xfcc
}

func xfccElement(ci *connInfo) string {
	leaf := ci.peer.Certificate
	var parts []string
	if ci.local != nil && ci.local.Leaf != nil {
		for _, u := range ci.local.Leaf.URIs {
			parts = append(parts, "By="+u.String())
		}
	}
	sum := sha256.Sum256(leaf.Raw)
	parts = append(parts, "Hash="+hex.EncodeToString(sum[:]))
	parts = append(parts, `Cert="`+xfccEscapePEM(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw}))+`"`)
	parts = append(parts, `Subject="`+leaf.Subject.String()+`"`)
	if len(ci.peer.URIs) == 0 {
		// Envoy writes the key even when the certificate has no URI SAN.
		parts = append(parts, "URI=")
	}
	for _, u := range ci.peer.URIs {
		parts = append(parts, "URI="+u)
	}
	for _, d := range ci.peer.DNSNames {
		parts = append(parts, "DNS="+d)
	}
	return strings.Join(parts, ";")
}

// xfccPEMEscaper URL-encodes a PEM block the way Envoy does: only the characters PEM has that
// XFCC's syntax or URLs reserve.
var xfccPEMEscaper = strings.NewReplacer("\n", "%0A", " ", "%20", "+", "%2B", "/", "%2F", "=", "%3D")

func xfccEscapePEM(b []byte) string { return xfccPEMEscaper.Replace(string(b)) }
