package gateway

import (
	"crypto/tls"

	networking "istio.io/api/networking/v1alpha3"
)

// cipherSuiteIDs maps the OpenSSL/BoringSSL names Envoy accepts in cipherSuites to Go's suites.
// TLS 1.3 suites are not configurable, in Envoy as in Go.
var cipherSuiteIDs = map[string]uint16{
	"ECDHE-ECDSA-AES128-GCM-SHA256": tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	"ECDHE-RSA-AES128-GCM-SHA256":   tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	"ECDHE-ECDSA-AES256-GCM-SHA384": tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	"ECDHE-RSA-AES256-GCM-SHA384":   tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	"ECDHE-ECDSA-CHACHA20-POLY1305": tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	"ECDHE-RSA-CHACHA20-POLY1305":   tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	"ECDHE-ECDSA-AES128-SHA":        tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
	"ECDHE-RSA-AES128-SHA":          tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
	"ECDHE-ECDSA-AES256-SHA":        tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
	"ECDHE-RSA-AES256-SHA":          tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
	"AES128-GCM-SHA256":             tls.TLS_RSA_WITH_AES_128_GCM_SHA256,
	"AES256-GCM-SHA384":             tls.TLS_RSA_WITH_AES_256_GCM_SHA384,
	"AES128-SHA":                    tls.TLS_RSA_WITH_AES_128_CBC_SHA,
	"AES256-SHA":                    tls.TLS_RSA_WITH_AES_256_CBC_SHA,
	"DES-CBC3-SHA":                  tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA,
}

// tlsVersions maps ServerTLSSettings protocol versions to Go's; TLS_AUTO is absent (the default
// applies).
var tlsVersions = map[networking.ServerTLSSettings_TLSProtocol]uint16{
	networking.ServerTLSSettings_TLSV1_0: tls.VersionTLS10,
	networking.ServerTLSSettings_TLSV1_1: tls.VersionTLS11,
	networking.ServerTLSSettings_TLSV1_2: tls.VersionTLS12,
	networking.ServerTLSSettings_TLSV1_3: tls.VersionTLS13,
}

// Envoy's defaults for a downstream TLS context.
const (
	defaultMinTLSVersion = networking.ServerTLSSettings_TLSV1_2
	defaultMaxTLSVersion = networking.ServerTLSSettings_TLSV1_3
)
