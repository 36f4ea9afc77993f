package validation

import (
	"testing"

	networking "istio.io/api/networking/v1alpha3"
)

// oneServer is a Gateway with the given server JSON as its only server.
func oneServer(server string) *networking.Gateway {
	return gatewayJSON(`{"servers":[` + server + `]}`)
}

const (
	httpServer  = `{"port":{"number":80,"name":"http","protocol":"HTTP"},"hosts":["example.com"]}`
	httpsPrefix = `{"port":{"number":443,"name":"https","protocol":"HTTPS"},"hosts":["example.com"],"tls":`
)

func httpsServer(tls string) *networking.Gateway {
	return oneServer(httpsPrefix + tls + `}`)
}

func TestGateway(t *testing.T) {
	t.Parallel()
	tls := "spec.servers[0].tls"
	runCases(t, []validationCase{
		{name: "valid HTTP server", spec: oneServer(httpServer)},
		{name: "valid SIMPLE with credentialName", spec: httpsServer(`{"mode":"SIMPLE","credentialName":"cert"}`)},
		{name: "valid SIMPLE with files", spec: httpsServer(`{"mode":"SIMPLE","serverCertificate":"/c","privateKey":"/k"}`)},
		{name: "valid MUTUAL with files and CA", spec: httpsServer(`{"mode":"MUTUAL","serverCertificate":"/c","privateKey":"/k","caCertificates":"/ca"}`)},
		{name: "valid MUTUAL with credentialName only", spec: httpsServer(`{"mode":"MUTUAL","credentialName":"cert"}`)},
		{name: "valid PASSTHROUGH", spec: httpsServer(`{"mode":"PASSTHROUGH"}`)},
		{name: "valid httpsRedirect on HTTP", spec: oneServer(`{"port":{"number":80,"name":"http","protocol":"HTTP"},"hosts":["*"],"tls":{"httpsRedirect":true}}`)},
		{name: "valid namespaced hosts", spec: oneServer(`{"port":{"number":80,"name":"http","protocol":"HTTP"},"hosts":["ns1/*.example.com","./foo.example.com","*/*"]}`)},
		{name: "valid IP host", spec: oneServer(`{"port":{"number":80,"name":"http","protocol":"HTTP"},"hosts":["10.0.0.1"]}`)},
		{name: "valid unix bind", spec: oneServer(`{"port":{"number":0,"name":"uds","protocol":"HTTP"},"hosts":["a.com"],"bind":"unix:///var/run/gw.sock"}`)},

		{name: "gateway name must be a DNS label", meta: Meta{Name: "my.gateway"}, spec: oneServer(httpServer),
			want: []wantFinding{wantErr("metadata.name", "invalid gateway name")}},
		{name: "at least one server", spec: gatewayJSON(`{}`),
			want: []wantFinding{wantErr("spec.servers", "at least one server")}},
		{name: "server needs hosts", spec: oneServer(`{"port":{"number":80,"name":"http","protocol":"HTTP"}}`),
			want: []wantFinding{wantErr("spec.servers[0].hosts", "at least one host")}},
		{name: "bad host label", spec: oneServer(`{"port":{"number":80,"name":"http","protocol":"HTTP"},"hosts":["bad_host.com"]}`),
			want: []wantFinding{wantErr("spec.servers[0].hosts[0]", `label "bad_host" invalid`)}},
		{name: "short name host", spec: oneServer(`{"port":{"number":80,"name":"http","protocol":"HTTP"},"hosts":["foo"]}`),
			want: []wantFinding{wantErr("spec.servers[0].hosts[0]", "short names")}},
		{name: "partial wildcard host", spec: oneServer(`{"port":{"number":80,"name":"http","protocol":"HTTP"},"hosts":["*foo.com"]}`),
			want: []wantFinding{wantErr("spec.servers[0].hosts[0]", "partial wildcard")}},
		{name: "wildcard not in first label", spec: oneServer(`{"port":{"number":80,"name":"http","protocol":"HTTP"},"hosts":["foo.*.com"]}`),
			want: []wantFinding{wantErr("spec.servers[0].hosts[0]", `label "*" invalid`), wantErr("spec.servers[0].hosts[0]", "partial wildcard")}},
		{name: "bad host namespace", spec: oneServer(`{"port":{"number":80,"name":"http","protocol":"HTTP"},"hosts":["Bad_NS/a.com"]}`),
			want: []wantFinding{wantErr("spec.servers[0].hosts[0]", "invalid namespace value")}},
		{name: "empty host namespace", spec: oneServer(`{"port":{"number":80,"name":"http","protocol":"HTTP"},"hosts":["/a.com"]}`),
			want: []wantFinding{wantErr("spec.servers[0].hosts[0]", "cannot be empty"), wantErr("spec.servers[0].hosts[0]", "invalid namespace value")}},
		{name: "port required", spec: oneServer(`{"hosts":["a.com"]}`),
			want: []wantFinding{wantErr("spec.servers[0].port", "port is required")}},
		{name: "port number range", spec: oneServer(`{"port":{"number":70000,"name":"http","protocol":"HTTP"},"hosts":["a.com"]}`),
			want: []wantFinding{wantErr("spec.servers[0].port.number", "1..65535")}},
		{name: "port number zero", spec: oneServer(`{"port":{"name":"http","protocol":"HTTP"},"hosts":["a.com"]}`),
			want: []wantFinding{wantErr("spec.servers[0].port.number", "1..65535")}},
		{name: "unknown protocol", spec: oneServer(`{"port":{"number":80,"name":"http","protocol":"SPDY"},"hosts":["a.com"]}`),
			want: []wantFinding{wantErr("spec.servers[0].port.protocol", `invalid protocol "SPDY"`)}},
		{name: "port name required", spec: oneServer(`{"port":{"number":80,"protocol":"HTTP"},"hosts":["a.com"]}`),
			want: []wantFinding{wantErr("spec.servers[0].port.name", "port name must be set")}},
		{name: "targetPort refused", spec: oneServer(`{"port":{"number":80,"name":"http","protocol":"HTTP","targetPort":8080},"hosts":["a.com"]}`),
			want: []wantFinding{wantErr("spec.servers[0].port.targetPort", "no impact on Gateways")}},
		{name: "duplicate port names", spec: gatewayJSON(`{"servers":[` + httpServer + `,{"port":{"number":81,"name":"http","protocol":"HTTP"},"hosts":["b.com"]}]}`),
			want: []wantFinding{wantErr("spec.servers[1].port.name", "must be unique")}},
		{name: "bind must be an IP", spec: oneServer(`{"port":{"number":80,"name":"http","protocol":"HTTP"},"hosts":["a.com"],"bind":"localhost"}`),
			want: []wantFinding{wantErr("spec.servers[0].bind", "not a valid IP")}},
		{name: "unix bind needs port 0", spec: oneServer(`{"port":{"number":80,"name":"http","protocol":"HTTP"},"hosts":["a.com"],"bind":"unix:///x.sock"}`),
			want: []wantFinding{wantErr("spec.servers[0].port.number", "must be 0 for unix domain socket")}},
		{name: "unix bind must be absolute", spec: oneServer(`{"port":{"number":0,"name":"http","protocol":"HTTP"},"hosts":["a.com"],"bind":"unix://x.sock"}`),
			want: []wantFinding{wantErr("spec.servers[0].bind", "not an absolute path")}},
		{name: "HTTPS needs tls", spec: oneServer(`{"port":{"number":443,"name":"https","protocol":"HTTPS"},"hosts":["a.com"]}`),
			want: []wantFinding{wantErr(tls, "must have TLS settings for HTTPS/TLS")}},
		{name: "HTTP cannot terminate TLS", spec: oneServer(`{"port":{"number":80,"name":"http","protocol":"HTTP"},"hosts":["a.com"],"tls":{"mode":"SIMPLE","credentialName":"c"}}`),
			want: []wantFinding{wantErr(tls, "plain text HTTP ports")}},
		{name: "TCP cannot have tls", spec: oneServer(`{"port":{"number":9000,"name":"tcp","protocol":"TCP"},"hosts":["a.com"],"tls":{"mode":"PASSTHROUGH"}}`),
			want: []wantFinding{wantErr(tls, "non HTTPS/TLS ports")}},
		{name: "httpsRedirect only with HTTP", spec: httpsServer(`{"mode":"SIMPLE","credentialName":"c","httpsRedirect":true}`),
			want: []wantFinding{wantWarn(tls+".httpsRedirect", "should only be used with HTTP")}},

		{name: "SIMPLE without credentials", spec: httpsServer(`{"mode":"SIMPLE"}`),
			want: []wantFinding{wantErr(tls, "SIMPLE TLS requires credentials")}},
		{name: "SIMPLE without private key", spec: httpsServer(`{"mode":"SIMPLE","serverCertificate":"/c"}`),
			want: []wantFinding{wantErr(tls+".privateKey", "SIMPLE TLS requires a private key")}},
		{name: "SIMPLE without server certificate", spec: httpsServer(`{"mode":"SIMPLE","privateKey":"/k"}`),
			want: []wantFinding{wantErr(tls+".serverCertificate", "SIMPLE TLS requires a server certificate")}},
		{name: "MUTUAL without credentials", spec: httpsServer(`{"mode":"MUTUAL"}`),
			want: []wantFinding{wantErr(tls, "MUTUAL TLS requires a client CA bundle"), wantErr(tls, "MUTUAL TLS requires credentials")}},
		{name: "MUTUAL files without CA", spec: httpsServer(`{"mode":"MUTUAL","serverCertificate":"/c","privateKey":"/k"}`),
			want: []wantFinding{wantErr(tls, "MUTUAL TLS requires a client CA bundle")}},
		{name: "OPTIONAL_MUTUAL files without CA", spec: httpsServer(`{"mode":"OPTIONAL_MUTUAL","serverCertificate":"/c","privateKey":"/k"}`),
			want: []wantFinding{wantErr(tls, "MUTUAL TLS requires a client CA bundle")}},
		{name: "MUTUAL with caCertCredentialName", spec: httpsServer(`{"mode":"MUTUAL","serverCertificate":"/c","privateKey":"/k","caCertCredentialName":"ca"}`)},
		{name: "tlsCertificates entry incomplete", spec: httpsServer(`{"mode":"SIMPLE","tlsCertificates":[{"serverCertificate":"/c"}]}`),
			want: []wantFinding{wantErr(tls+".tlsCertificates[0].privateKey", "requires a private key")}},
		{name: "more than two tlsCertificates", spec: httpsServer(`{"mode":"SIMPLE","tlsCertificates":[{"serverCertificate":"/a","privateKey":"/a"},{"serverCertificate":"/b","privateKey":"/b"},{"serverCertificate":"/c","privateKey":"/c"}]}`),
			want: []wantFinding{wantErr(tls+".tlsCertificates", "at most 2")}},
		{name: "two credential sources", spec: httpsServer(`{"mode":"SIMPLE","credentialName":"a","credentialNames":["b"]}`),
			want: []wantFinding{wantErr(tls, "only one of credentialName, credentialNames")}},
		{name: "ISTIO_MUTUAL with cert fields", spec: httpsServer(`{"mode":"ISTIO_MUTUAL","serverCertificate":"/c","privateKey":"/k","caCertificates":"/ca","credentialName":"x"}`),
			want: []wantFinding{
				wantErr(tls+".serverCertificate", "ISTIO_MUTUAL TLS cannot have associated server certificate"),
				wantErr(tls+".privateKey", "ISTIO_MUTUAL TLS cannot have associated private key"),
				wantErr(tls+".caCertificates", "ISTIO_MUTUAL TLS cannot have associated CA bundle"),
				wantErr(tls+".credentialName", "ISTIO_MUTUAL TLS cannot have associated credentialName"),
			}},
		{name: "PASSTHROUGH ignores certificates", spec: httpsServer(`{"mode":"PASSTHROUGH","credentialName":"c"}`),
			want: []wantFinding{wantWarn(tls, "does not use certificates")}},
		{name: "CRL with credentialName", spec: httpsServer(`{"mode":"MUTUAL","credentialName":"c","caCrl":"/crl"}`),
			want: []wantFinding{wantErr(tls+".caCrl", "CRL is not supported with credentialName")}},
		{name: "CRL with SIMPLE", spec: httpsServer(`{"mode":"SIMPLE","serverCertificate":"/c","privateKey":"/k","caCrl":"/crl"}`),
			want: []wantFinding{wantErr(tls+".caCrl", "CRL is not supported with SIMPLE TLS")}},
		{name: "old TLS without ciphers", spec: httpsServer(`{"mode":"SIMPLE","credentialName":"c","minProtocolVersion":"TLSV1_0"}`),
			want: []wantFinding{wantWarn(tls+".minProtocolVersion", "below TLSV1_2")}},
		{name: "invalid and duplicate ciphers", spec: httpsServer(`{"mode":"SIMPLE","credentialName":"c","cipherSuites":["AES128-SHA","NOPE","AES128-SHA","-AES256-SHA"]}`),
			want: []wantFinding{wantWarn(tls+".cipherSuites", "invalid cipher suites: [NOPE]"), wantWarn(tls+".cipherSuites", "duplicate cipher suites: [AES128-SHA]")}},
	})
}
