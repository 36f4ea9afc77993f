package meshxds

import (
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Istio's SDS resource names for the workload certificate and the mesh trust bundle.
const (
	sdsDefault = "default"
	sdsRootCA  = "ROOTCA"
)

// Istio's ALPN values. A client sidecar offers an "istio*" protocol so the server can tell mesh
// mTLS from an app's own TLS; the server never offers "istio" itself, which would hide the real
// protocol (h2, http/1.1) from the negotiation.
var (
	// allIstioMTLSALPNs is what a PERMISSIVE port matches to terminate mesh mTLS.
	allIstioMTLSALPNs = []string{"istio", "istio-peer-exchange", "istio-http/1.0", "istio-http/1.1", "istio-h2"}
	// downstreamALPNs is what the server offers on a TCP chain (istiod's ALPNDownstreamWithMxc).
	downstreamALPNs = []string{"istio-peer-exchange", "h2", "http/1.1"}
	// meshCiphers are istiod's server-side cipher suites for sidecars (used for TLS 1.2; TLS 1.3
	// suites are not configurable in Envoy).
	meshCiphers = []string{
		"ECDHE-ECDSA-AES256-GCM-SHA384",
		"ECDHE-RSA-AES256-GCM-SHA384",
		"ECDHE-ECDSA-AES128-GCM-SHA256",
		"ECDHE-RSA-AES128-GCM-SHA256",
		"AES256-GCM-SHA384",
		"AES128-GCM-SHA256",
	}
)

// inboundMTLS is the DownstreamTlsContext istiod builds for an inbound mTLS chain: the workload
// cert "default" and the trust bundle "ROOTCA" by SDS, a client certificate required, TLS 1.2
// to 1.3. The SDS source is ADS, because Gatehouse serves Secrets on the same stream as the
// Listeners (istio-agent instead proxies them over a local "sds-grpc" cluster).
func inboundMTLS() *tlsv3.DownstreamTlsContext {
	return &tlsv3.DownstreamTlsContext{
		RequireClientCertificate: wrapperspb.Bool(true),
		CommonTlsContext: &tlsv3.CommonTlsContext{
			AlpnProtocols: downstreamALPNs,
			TlsParams: &tlsv3.TlsParameters{
				TlsMinimumProtocolVersion: tlsv3.TlsParameters_TLSv1_2,
				TlsMaximumProtocolVersion: tlsv3.TlsParameters_TLSv1_3,
				CipherSuites:              meshCiphers,
			},
			TlsCertificateSdsSecretConfigs: []*tlsv3.SdsSecretConfig{sdsSecret(sdsDefault)},
			ValidationContextType: &tlsv3.CommonTlsContext_CombinedValidationContext{
				CombinedValidationContext: &tlsv3.CommonTlsContext_CombinedCertificateValidationContext{
					DefaultValidationContext:         &tlsv3.CertificateValidationContext{},
					ValidationContextSdsSecretConfig: sdsSecret(sdsRootCA),
				},
			},
		},
	}
}

func sdsSecret(name string) *tlsv3.SdsSecretConfig {
	return &tlsv3.SdsSecretConfig{Name: name, SdsConfig: adsSource()}
}

// adsSource points a resource at the ADS stream the proxy already has with Gatehouse.
func adsSource() *core.ConfigSource {
	return &core.ConfigSource{
		ConfigSourceSpecifier: &core.ConfigSource_Ads{Ads: &core.AggregatedConfigSource{}},
		ResourceApiVersion:    core.ApiVersion_V3,
	}
}
