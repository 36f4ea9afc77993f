package kube

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// portProtocol is the Istio protocol of a Service port, as Istio selects it: UDP for UDP ports;
// else appProtocol when set (Kubernetes' own kubernetes.io/h2c, ws and wss names mapped to HTTP2,
// HTTP and HTTPS), else the port name's prefix before the first "-" ("http-web" is HTTP,
// "grpc-web" is gRPC-Web). Anything else is "", which asks for protocol sniffing as Istio does
// for unnamed ports. ok is false for ports Istio cannot carry (SCTP).
func portProtocol(p corev1.ServicePort) (protocol string, ok bool) {
	switch p.Protocol {
	case corev1.ProtocolUDP:
		return "UDP", true
	case corev1.ProtocolSCTP:
		return "", false
	}
	name := p.Name
	if p.AppProtocol != nil && *p.AppProtocol != "" {
		switch *p.AppProtocol {
		case "kubernetes.io/h2c":
			return "HTTP2", true
		case "kubernetes.io/ws":
			return "HTTP", true
		case "kubernetes.io/wss":
			return "HTTPS", true
		}
		name = *p.AppProtocol
	}
	if len(name) >= len("grpc-web") && strings.EqualFold(name[:len("grpc-web")], "grpc-web") {
		return "GRPC-WEB", true
	}
	if i := strings.IndexByte(name, '-'); i >= 0 {
		name = name[:i]
	}
	switch up := strings.ToUpper(name); up {
	case "HTTP", "HTTP2", "HTTPS", "HTTP_PROXY", "GRPC", "TCP", "UDP", "TLS", "MONGO", "REDIS", "MYSQL":
		return up, true
	}
	return "", true
}
