package validation

import (
	"strings"

	networking "istio.io/api/networking/v1alpha3"
)

func validateGateway(meta Meta, gw *networking.Gateway, r *report) {
	// Gateway names end up in route names and SDS resource names, where dots would be ambiguous.
	if !isDNS1123Label(meta.Name) {
		r.errorf("metadata.name", "invalid gateway name %q: must be a DNS-1123 label (no dots)", meta.Name)
	}
	if len(gw.GetServers()) == 0 {
		r.errorf("spec.servers", "gateway must have at least one server")
	}
	portNames := map[string]bool{}
	for i, s := range gw.GetServers() {
		field := path("spec.servers", i)
		if s == nil {
			r.errorf(field, "server may not be null")
			continue
		}
		validateServer(field, s, r)
		if s.GetPort() == nil {
			continue
		}
		name := s.GetPort().GetName()
		if portNames[name] {
			r.errorf(path(path(field, "port"), "name"), "port names in servers must be unique: duplicate name %q", name)
		}
		portNames[name] = true
		if s.GetTls().GetHttpsRedirect() && !parseProtocol(s.GetPort().GetProtocol()).isHTTP() {
			r.warnf(path(path(field, "tls"), "httpsRedirect"), "tls.httpsRedirect should only be used with HTTP servers")
		}
	}
}

func validateServer(field string, s *networking.Server, r *report) {
	if len(s.GetHosts()) == 0 {
		r.errorf(path(field, "hosts"), "server must have at least one host")
	}
	for i, h := range s.GetHosts() {
		validateGatewayHost(path(path(field, "hosts"), i), h, r)
	}
	portOK := validateServerPort(field, s.GetPort(), s.GetBind(), r)
	validateServerBind(field, s.GetPort(), s.GetBind(), r)
	validateServerTLS(path(field, "tls"), s.GetTls(), r)
	if !portOK {
		return
	}
	p := parseProtocol(s.GetPort().GetProtocol())
	tls := s.GetTls()
	switch {
	case p.isTLS() && tls == nil:
		r.errorf(path(field, "tls"), "server must have TLS settings for HTTPS/TLS protocols")
	case p.isTLS() || tls == nil:
	case p.isHTTP():
		// A plain HTTP server may carry tls only to ask for httpsRedirect, which leaves mode at
		// its default (PASSTHROUGH); anything that would terminate TLS makes no sense there.
		if !isPassthroughMode(tls.GetMode()) || tls.GetCaCertificates() != "" ||
			tls.GetPrivateKey() != "" || tls.GetServerCertificate() != "" {
			r.errorf(path(field, "tls"), "server cannot have TLS settings for plain text HTTP ports")
		}
	default:
		r.errorf(path(field, "tls"), "server cannot have TLS settings for non HTTPS/TLS ports")
	}
}

func isPassthroughMode(m networking.ServerTLSSettings_TLSmode) bool {
	return m == networking.ServerTLSSettings_PASSTHROUGH || m == networking.ServerTLSSettings_AUTO_PASSTHROUGH
}

// validateServerPort reports whether the port is usable, so that checks depending on its
// protocol are skipped when it is not.
func validateServerPort(field string, port *networking.Port, bind string, r *report) bool {
	field = path(field, "port")
	if port == nil {
		r.errorf(field, "port is required")
		return false
	}
	before := len(r.findings)
	if parseProtocol(port.GetProtocol()) == protoUnsupported {
		r.errorf(path(field, "protocol"), "invalid protocol %q, supported protocols are HTTP, HTTP2, GRPC, GRPC-WEB, MONGO, REDIS, MYSQL, TCP, HTTPS, TLS", port.GetProtocol())
	}
	// A server bound to a Unix domain socket has no port number.
	if port.GetNumber() > 0 || !strings.HasPrefix(bind, unixAddressPrefix) {
		validatePortNumber(path(field, "number"), port.GetNumber(), r)
	}
	//lint:ignore SA1019 deprecated field, refused on purpose
	if port.GetTargetPort() > 0 {
		r.errorf(path(field, "targetPort"), "targetPort has no impact on Gateways")
	}
	if port.GetName() == "" {
		r.errorf(path(field, "name"), "port name must be set")
	}
	return len(r.findings) == before
}

func validateServerBind(field string, port *networking.Port, bind string, r *report) {
	f := path(field, "bind")
	if socket, ok := strings.CutPrefix(bind, unixAddressPrefix); ok {
		validateUnixAddress(f, socket, r)
		if port.GetNumber() != 0 {
			r.errorf(path(path(field, "port"), "number"), "port number must be 0 for unix domain socket bind %q", bind)
		}
		return
	}
	if bind != "" && !isIPAddress(bind) {
		r.errorf(f, "bind %q is not a valid IP address", bind)
	}
}
