package validation

import "strings"

// validatePortNumber reports a port outside 1..65535; 0 means "unset" and is refused too, so
// callers that allow an absent port check for 0 before calling.
func validatePortNumber(field string, port uint32, r *report) {
	if port < 1 || port > 65535 {
		r.errorf(field, "port number %d must be in the range 1..65535", port)
	}
}

// protocol is Istio's reading of a port's protocol name: case-insensitive, with anything it does
// not know being "unsupported" (which Gateways reject and ServiceEntries treat as TCP-ish).
type protocol string

const (
	protoUnsupported protocol = ""
	protoHTTP        protocol = "HTTP"
	protoHTTP2       protocol = "HTTP2"
	protoHTTPS       protocol = "HTTPS"
	protoHTTPProxy   protocol = "HTTP_PROXY"
	protoGRPC        protocol = "GRPC"
	protoGRPCWeb     protocol = "GRPC-WEB"
	protoTCP         protocol = "TCP"
	protoUDP         protocol = "UDP"
	protoTLS         protocol = "TLS"
	protoMongo       protocol = "MONGO"
	protoRedis       protocol = "REDIS"
	protoMySQL       protocol = "MYSQL"
)

func parseProtocol(name string) protocol {
	switch p := protocol(strings.ToUpper(name)); p {
	case protoHTTP, protoHTTP2, protoHTTPS, protoHTTPProxy, protoGRPC, protoGRPCWeb, protoTCP,
		protoUDP, protoTLS, protoMongo, protoRedis, protoMySQL:
		return p
	}
	return protoUnsupported
}

// isHTTP: protocols whose traffic the gateway routes as HTTP.
func (p protocol) isHTTP() bool {
	switch p {
	case protoHTTP, protoHTTP2, protoHTTPProxy, protoGRPC, protoGRPCWeb:
		return true
	}
	return false
}

// isTLS: protocols that arrive encrypted and so need TLS settings on a gateway server.
func (p protocol) isTLS() bool {
	return p == protoHTTPS || p == protoTLS
}

// isTCP: protocols carried over TCP as opaque or TLS streams, which a proxy can tell apart by
// destination address and port only.
func (p protocol) isTCP() bool {
	switch p {
	case protoTCP, protoHTTPS, protoTLS, protoMongo, protoRedis, protoMySQL:
		return true
	}
	return false
}

// validatePortName: port names end up in Envoy cluster and listener names, so Istio requires DNS
// labels.
func validatePortName(field string, name string, r *report) {
	if !isDNS1123Label(name) {
		r.errorf(field, "invalid port name %q: must be a DNS-1123 label", name)
	}
}
