package validation

import "testing"

func TestExtensionProviders(t *testing.T) {
	t.Parallel()
	providers := func(list string) validationCase {
		return validationCase{spec: meshJSON(`{"extensionProviders":[` + list + `]}`)}
	}
	row := func(name, list string, want ...wantFinding) validationCase {
		c := providers(list)
		c.name, c.want = name, want
		return c
	}
	const p0 = "data.mesh.extensionProviders[0]"
	const http = p0 + ".envoyExtAuthzHttp"
	const grpc = p0 + ".envoyExtAuthzGrpc"
	runCases(t, []validationCase{
		row("HTTP and gRPC ext_authz", `
			{"name":"opa","envoyExtAuthzGrpc":{"service":"opa.opa.svc.cluster.local","port":9191,"timeout":"0.5s","statusOnError":"503"}},
			{"name":"oauth2","envoyExtAuthzHttp":{"service":"auth/oauth2-proxy.auth.svc.cluster.local","port":4180,"pathPrefix":"/oauth2/auth","includeRequestHeadersInCheck":["cookie"]}},
			{"name":"by-ip","envoyExtAuthzHttp":{"service":"10.0.0.7","port":8080}}`),
		row("providers that call no service", `{"name":"prom","prometheus":{}},{"name":"log","envoyFileAccessLog":{"path":"/dev/stdout"}}`),
		row("service required", `{"name":"x","envoyExtAuthzHttp":{"port":8080}}`,
			wantWarn(http+".service", "service must not be empty")),
		row("port required", `{"name":"x","envoyExtAuthzGrpc":{"service":"authz.example.com"}}`,
			wantWarn(grpc+".port", "port number 0 must be in the range 1..65535")),
		row("port range", `{"name":"x","envoyExtAuthzHttp":{"service":"authz.example.com","port":65536}}`,
			wantWarn(http+".port", "port number 65536")),
		row("service that is not a host", `{"name":"x","envoyExtAuthzHttp":{"service":"authz service","port":80}}`,
			wantWarn(http+".service", "not a host name or an IP address")),
		row("short name after a namespace", `{"name":"x","envoyExtAuthzGrpc":{"service":"auth/authz","port":80}}`,
			wantWarn(grpc+".service", "short names (non FQDN) are not allowed")),
		row("bad namespace", `{"name":"x","envoyExtAuthzGrpc":{"service":"Auth_NS/authz.example.com","port":80}}`,
			wantWarn(grpc+".service", `invalid namespace "Auth_NS"`)),
		row("empty namespace", `{"name":"x","envoyExtAuthzGrpc":{"service":"/authz.example.com","port":80}}`,
			wantWarn(grpc+".service", "cannot be empty")),
		row("pathPrefix must start with a slash", `{"name":"x","envoyExtAuthzHttp":{"service":"authz.example.com","port":80,"pathPrefix":"check"}}`,
			wantWarn(http+".pathPrefix", "pathPrefix should begin with `/`")),
		row("timeout below 1ms", `{"name":"x","envoyExtAuthzHttp":{"service":"authz.example.com","port":80,"timeout":"0s"}}`,
			wantWarn(http+".timeout", "greater than 1ms")),
		row("gRPC timeout finer than ms", `{"name":"x","envoyExtAuthzGrpc":{"service":"authz.example.com","port":80,"timeout":"0.0015s"}}`,
			wantWarn(grpc+".timeout", "ms precision")),
		row("statusOnError not a number", `{"name":"x","envoyExtAuthzHttp":{"service":"authz.example.com","port":80,"statusOnError":"unavailable"}}`,
			wantWarn(http+".statusOnError", "invalid statusOnError")),
		row("statusOnError not a known status", `{"name":"x","envoyExtAuthzGrpc":{"service":"authz.example.com","port":80,"statusOnError":"599"}}`,
			wantWarn(grpc+".statusOnError", "unsupported statusOnError")),
		row("empty name", `{"envoyExtAuthzGrpc":{"service":"authz.example.com","port":80}}`,
			wantWarn(p0+".name", "empty extension provider name")),
		row("unique names", `{"name":"x","prometheus":{}},{"name":"x","envoyExtAuthzGrpc":{"service":"authz.example.com","port":80}}`,
			wantWarn("data.mesh.extensionProviders[1].name", `duplicate extension provider name "x"`)),
		row("no provider type", `{"name":"x"}`,
			wantWarn(p0, "sets no provider")),
		row("tracing provider service and port", `{"name":"zipkin","zipkin":{"service":"zipkin.istio-system.svc.cluster.local"}}`,
			wantWarn(p0+".zipkin.port", "port number 0")),
		row("lightstep needs an access token", `{"name":"ls","lightstep":{"service":"collector.example.com","port":8080}}`,
			wantWarn(p0+".lightstep.accessToken", "access token is required")),
		row("opentelemetry grpc and http together", `{"name":"otel","opentelemetry":{"service":"otel.example.com","port":4317,"grpc":{},"http":{"path":"/v1/traces"}}}`,
			wantWarn(p0+".opentelemetry", "cannot specify both grpc and http")),
	})
}
