package sds

import (
	"errors"
	"fmt"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
)

// receivedSecrets checks a whole SDS response and returns its Secrets as Store data keyed by
// resource name. One bad resource rejects the response, as Envoy does, so the client never
// applies half of an update. Names the client did not ask for are ignored.
func receivedSecrets(resp *discovery.DiscoveryResponse, wanted map[string]bool, now time.Time) (map[string]map[string][]byte, error) {
	if resp.GetTypeUrl() != resourcev3.SecretType {
		return nil, fmt.Errorf("response type %q, want %s", resp.GetTypeUrl(), resourcev3.SecretType)
	}
	out := map[string]map[string][]byte{}
	for i, a := range resp.GetResources() {
		var s tlsv3.Secret
		if a.GetTypeUrl() != resourcev3.SecretType {
			return nil, fmt.Errorf("resources[%d]: type %q, want %s", i, a.GetTypeUrl(), resourcev3.SecretType)
		}
		if err := a.UnmarshalTo(&s); err != nil {
			return nil, fmt.Errorf("resources[%d]: %w", i, err)
		}
		if !wanted[s.GetName()] {
			continue
		}
		data, err := secretData(&s)
		if err != nil {
			return nil, fmt.Errorf("secret %s: %w", s.GetName(), err)
		}
		if _, _, err := ParseSecret(data, now); err != nil {
			return nil, fmt.Errorf("secret %s: %w", s.GetName(), err)
		}
		out[s.GetName()] = data
	}
	return out, nil
}

// secretData maps an Envoy Secret to the Secret-style data the Store parses.
func secretData(s *tlsv3.Secret) (map[string][]byte, error) {
	if err := s.ValidateAll(); err != nil {
		return nil, err
	}
	data := map[string][]byte{}
	var err error
	switch t := s.GetType().(type) {
	case *tlsv3.Secret_TlsCertificate:
		if data["tls.crt"], err = inline(t.TlsCertificate.GetCertificateChain(), "certificate_chain"); err != nil {
			return nil, err
		}
		if data["tls.key"], err = inline(t.TlsCertificate.GetPrivateKey(), "private_key"); err != nil {
			return nil, err
		}
	case *tlsv3.Secret_ValidationContext:
		if data["ca.crt"], err = inline(t.ValidationContext.GetTrustedCa(), "trusted_ca"); err != nil {
			return nil, err
		}
		if crl := t.ValidationContext.GetCrl(); crl != nil {
			if data["ca.crl"], err = inline(crl, "crl"); err != nil {
				return nil, err
			}
		}
	default:
		return nil, errors.New("neither tls_certificate nor validation_context")
	}
	return data, nil
}

// inline returns a data source's bytes. A filename or environment variable names something on
// the server's side, which this process cannot read.
func inline(ds *core.DataSource, field string) ([]byte, error) {
	switch v := ds.GetSpecifier().(type) {
	case *core.DataSource_InlineBytes:
		return v.InlineBytes, nil
	case *core.DataSource_InlineString:
		return []byte(v.InlineString), nil
	case nil:
		return nil, fmt.Errorf("%s: missing", field)
	default:
		return nil, fmt.Errorf("%s: only inline data is accepted from a remote SDS", field)
	}
}
