package gateway

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"

	"github.com/gatehouse-dev/gatehouse/gateway/clienthello"
)

// Reasons a TLS connection ends before its handshake completes: a bounded set, the label of
// gatehouse_tls_handshake_errors_total.
const (
	reasonNotTLS            = "not_tls"            // the first bytes are not a ClientHello
	reasonTimeout           = "timeout"            // no ClientHello, or no handshake, in time
	reasonClientClosed      = "client_closed"      // the client went away mid-handshake
	reasonClientRejected    = "client_rejected"    // the client sent an alert (distrusts our certificate)
	reasonNoMatchingSNI     = "no_matching_sni"    // no filter chain takes the SNI
	reasonMissingCredential = "missing_credential" // a certificate or CA is not in the store
	reasonNoClientCert      = "no_client_cert"     // MUTUAL without a client certificate
	reasonBadClientCert     = "bad_client_cert"    // untrusted, expired, revoked, SAN or pin mismatch
	reasonProtocolVersion   = "protocol_version"   // no TLS version in common
	reasonCipher            = "cipher"             // no cipher suite, curve or signature in common
	reasonALPN              = "alpn"               // no application protocol in common
	reasonOther             = "other"
)

const handshakeReasonList = "not_tls, timeout, client_closed, client_rejected, no_matching_sni, missing_credential, no_client_cert, bad_client_cert, protocol_version, cipher, alpn, other"

// peekReason classifies a failed ClientHello peek.
func peekReason(err error) string {
	switch {
	case errors.Is(err, clienthello.ErrTimeout):
		return reasonTimeout
	case errors.Is(err, clienthello.ErrNotTLS):
		return reasonNotTLS
	}
	return reasonClientClosed
}

// handshakeReason classifies a failed handshake. crypto/tls types few of its errors, so the
// rest are told apart by their messages.
func handshakeReason(err error) string {
	var missing *missingCredentialError
	switch {
	case errors.As(err, &missing), errors.Is(err, errNoCredentials):
		return reasonMissingCredential
	case isBadClientCert(err):
		return reasonBadClientCert
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return reasonTimeout
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, context.Canceled):
		return reasonClientClosed
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "remote error"):
		// An alert from the client: typically, it does not trust the gateway's certificate.
		return reasonClientRejected
	case strings.Contains(msg, "client didn't provide a certificate"):
		return reasonNoClientCert
	case strings.Contains(msg, "protocol version"), strings.Contains(msg, "unsupported versions"):
		return reasonProtocolVersion
	case strings.Contains(msg, "cipher suite"), strings.Contains(msg, "curve"), strings.Contains(msg, "signature"):
		return reasonCipher
	case strings.Contains(msg, "application protocol"):
		return reasonALPN
	case strings.Contains(msg, "connection reset"), strings.Contains(msg, "broken pipe"):
		return reasonClientClosed
	}
	return reasonOther
}
