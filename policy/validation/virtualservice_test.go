package validation

import (
	"strings"
	"testing"

	networking "istio.io/api/networking/v1alpha3"
)

const toReviews = `"route":[{"destination":{"host":"reviews"}}]`

// vsHTTP is a mesh VirtualService for host "reviews" with the given http routes.
func vsHTTP(routes ...string) *networking.VirtualService {
	return virtualServiceJSON(`{"hosts":["reviews"],"http":[` + strings.Join(routes, ",") + `]}`)
}

func TestVirtualService(t *testing.T) {
	t.Parallel()
	runCases(t, []validationCase{
		{name: "valid simple route", spec: vsHTTP(`{` + toReviews + `}`)},
		{name: "valid gateway-bound wildcard host", spec: virtualServiceJSON(`{"hosts":["*"],"gateways":["istio-system/ingress"],"http":[{` + toReviews + `}]}`)},
		{name: "valid delegate", spec: virtualServiceJSON(`{"http":[{` + toReviews + `}]}`)},
		{name: "valid IP host", spec: virtualServiceJSON(`{"hosts":["10.1.2.3"],"http":[{` + toReviews + `}]}`)},

		{name: "delegate cannot bind gateways", spec: virtualServiceJSON(`{"gateways":["ns/gw"],"http":[{` + toReviews + `}]}`),
			want: []wantFinding{wantErr("spec.gateways", "delegate virtual service must have no gateways")}},
		{name: "delegate cannot have tcp", spec: virtualServiceJSON(`{"tcp":[{` + toReviews + `}]}`),
			want: []wantFinding{wantErr("spec.tcp", "no tcp route")}},
		{name: "delegate cannot have tls", spec: virtualServiceJSON(`{"tls":[{"match":[{"sniHosts":["a.com"]}],` + toReviews + `}]}`),
			want: []wantFinding{
				wantErr("spec.tls", "no tls route"),
				wantErr("spec.tls[0].match[0].sniHosts[0]", "not a compatible subset"),
			}},
		{name: "needs a route kind", spec: virtualServiceJSON(`{"hosts":["reviews"]}`),
			want: []wantFinding{wantErr("spec", "http, tcp or tls must be provided")}},
		{name: "bad host", spec: virtualServiceJSON(`{"hosts":["bad..host"],"http":[{` + toReviews + `}]}`),
			want: []wantFinding{wantErr("spec.hosts[0]", `label "" invalid`)}},
		{name: "numeric top-level domain", spec: virtualServiceJSON(`{"hosts":["foo.123"],"http":[{` + toReviews + `}]}`),
			want: []wantFinding{wantErr("spec.hosts[0]", "cannot be all-numeric")}},
		{name: "wildcard host for mesh", spec: virtualServiceJSON(`{"hosts":["*"],"http":[{` + toReviews + `}]}`),
			want: []wantFinding{wantErr("spec.hosts[0]", "wildcard host * is not allowed")}},
		{name: "wildcard host with mesh gateway", spec: virtualServiceJSON(`{"hosts":["*"],"gateways":["mesh","ns/gw"],"http":[{` + toReviews + `}]}`),
			want: []wantFinding{wantErr("spec.hosts[0]", "wildcard host * is not allowed")}},
		{name: "duplicate hosts", spec: virtualServiceJSON(`{"hosts":["*.foo.com","a.foo.com"],"gateways":["ns/gw"],"http":[{` + toReviews + `}]}`),
			want: []wantFinding{wantErr("spec.hosts[1]", "duplicate hosts in virtual service")}},
		{name: "legacy gateway name", spec: virtualServiceJSON(`{"hosts":["a.com"],"gateways":["gw.istio-system"],"http":[{` + toReviews + `}]}`),
			want: []wantFinding{wantWarn("spec.gateways[0]", `prefer the <namespace>/<name> format: "istio-system/gw"`)}},
		{name: "bad gateway namespace", spec: virtualServiceJSON(`{"hosts":["a.com"],"gateways":["Bad_NS/gw"],"http":[{` + toReviews + `}]}`),
			want: []wantFinding{wantErr("spec.gateways[0]", "invalid value for namespace")}},
		{name: "bad gateway name", spec: virtualServiceJSON(`{"hosts":["a.com"],"gateways":["ns/gw.x"],"http":[{` + toReviews + `}]}`),
			want: []wantFinding{wantErr("spec.gateways[0]", "invalid value for gateway name")}},
		{name: "empty gateway name", spec: virtualServiceJSON(`{"hosts":["a.com"],"gateways":["ns/"],"http":[{` + toReviews + `}]}`),
			want: []wantFinding{wantErr("spec.gateways[0]", "cannot be empty")}},
		{name: "JWT claim routing needs a gateway", spec: vsHTTP(`{"match":[{"headers":{"@request.auth.claims.group":{"exact":"a"}}}],` + toReviews + `}`),
			want: []wantFinding{wantErr("spec.http[0].match[0].headers[@request.auth.claims.group]", "only supported for gateway")}},
		{name: "JWT claim routing on gateway", spec: virtualServiceJSON(`{"hosts":["a.com"],"gateways":["ns/gw"],"http":[{"match":[{"headers":{"@request.auth.claims[group]":{"exact":"a"}}}],` + toReviews + `}]}`)},
		{name: "bad exportTo", spec: virtualServiceJSON(`{"hosts":["a.com"],"exportTo":["Bad_NS"],"http":[{` + toReviews + `}]}`),
			want: []wantFinding{wantErr("spec.exportTo[0]", "valid namespace name")}},
		{name: "exportTo none refused", spec: virtualServiceJSON(`{"hosts":["a.com"],"exportTo":["~"],"http":[{` + toReviews + `}]}`),
			want: []wantFinding{wantErr("spec.exportTo[0]", "exportTo ~ (none) is not allowed")}},
		{name: "exportTo duplicate of own namespace", meta: Meta{Name: "vs", Namespace: "prod"}, spec: virtualServiceJSON(`{"hosts":["a.com"],"exportTo":["prod","."],"http":[{` + toReviews + `}]}`),
			want: []wantFinding{wantErr("spec.exportTo[1]", "duplicate entries in exportTo: . and current namespace prod")}},
		{name: "exportTo duplicate entry", spec: virtualServiceJSON(`{"hosts":["a.com"],"exportTo":["ns1","ns1"],"http":[{` + toReviews + `}]}`),
			want: []wantFinding{wantErr("spec.exportTo[1]", "duplicate entries in exportTo for entry ns1")}},
		{name: "exportTo public and more", spec: virtualServiceJSON(`{"hosts":["a.com"],"exportTo":["*","ns1"],"http":[{` + toReviews + `}]}`),
			want: []wantFinding{wantErr("spec.exportTo", "both public (*) and non-public")}},
	})
}

func TestVirtualServiceHTTPRoute(t *testing.T) {
	t.Parallel()
	h := "spec.http[0]"
	runCases(t, []validationCase{
		{name: "needs route, redirect or directResponse", spec: vsHTTP(`{"name":"r"}`),
			want: []wantFinding{wantErr(h, "HTTP route, redirect or directResponse is required")}},
		{name: "route and redirect", spec: vsHTTP(`{"redirect":{"uri":"/x"},` + toReviews + `}`),
			want: []wantFinding{wantErr(h+".route", "both route and redirect")}},
		{name: "fault and redirect", spec: vsHTTP(`{"redirect":{"uri":"/x"},"fault":{"abort":{"httpStatus":503}}}`),
			want: []wantFinding{wantErr(h+".fault", "both fault and redirect")}},
		{name: "rewrite and redirect", spec: vsHTTP(`{"redirect":{"uri":"/x"},"rewrite":{"uri":"/y"}}`),
			want: []wantFinding{wantErr(h+".rewrite", "both rewrite and redirect")}},
		{name: "directResponse and redirect", spec: vsHTTP(`{"redirect":{"uri":"/x"},"directResponse":{"status":200}}`),
			want: []wantFinding{wantErr(h+".directResponse", "both directResponse and redirect")}},
		{name: "route and directResponse", spec: vsHTTP(`{"directResponse":{"status":200},` + toReviews + `}`),
			want: []wantFinding{wantErr(h+".route", "both route and directResponse")}},
		{name: "mirror and mirrors", spec: vsHTTP(`{"mirror":{"host":"a"},"mirrors":[{"destination":{"host":"b"}}],` + toReviews + `}`),
			want: []wantFinding{wantErr(h+".mirrors", "both mirror and mirrors")}},
		{name: "root route with route", spec: vsHTTP(`{"name":"root","delegate":{"name":"d","namespace":"ns"},` + toReviews + `}`),
			want: []wantFinding{wantErr(h+".route", "root HTTP route root must not specify route")}},
		{name: "root route with redirect", spec: vsHTTP(`{"name":"root","delegate":{"name":"d"},"redirect":{"uri":"/"}}`),
			want: []wantFinding{wantErr(h+".redirect", "must not specify redirect")}},
		{name: "valid root route", spec: vsHTTP(`{"delegate":{"name":"d"}}`)},
		{name: "delegate route cannot delegate", spec: virtualServiceJSON(`{"http":[{"delegate":{"name":"d"},` + toReviews + `}]}`),
			want: []wantFinding{wantErr(h+".delegate", "cannot contain delegate")}},

		{name: "total weight zero", spec: vsHTTP(`{"route":[{"destination":{"host":"a"}},{"destination":{"host":"b"}}]}`),
			want: []wantFinding{wantErr(h+".route", "total destination weight = 0")}},
		{name: "single destination weight zero is fine", spec: vsHTTP(`{"route":[{"destination":{"host":"a"},"weight":0}]}`)},
		{name: "negative weight", spec: vsHTTP(`{"route":[{"destination":{"host":"a"},"weight":-1},{"destination":{"host":"b"},"weight":101}]}`),
			want: []wantFinding{wantErr(h+".route[0].weight", "weight -1 < 0")}},
		{name: "destination required", spec: vsHTTP(`{"route":[{"weight":100}]}`),
			want: []wantFinding{wantErr(h+".route[0].destination", "destination is required")}},
		{name: "destination host *", spec: vsHTTP(`{"route":[{"destination":{"host":"*"}}]}`),
			want: []wantFinding{wantErr(h+".route[0].destination.host", "invalid destination host *")}},
		{name: "destination bad host", spec: vsHTTP(`{"route":[{"destination":{"host":"-bad-"}}]}`),
			want: []wantFinding{wantErr(h+".route[0].destination.host", "invalid")}},
		{name: "destination bad subset", spec: vsHTTP(`{"route":[{"destination":{"host":"a","subset":"v_1"}}]}`),
			want: []wantFinding{wantErr(h+".route[0].destination.subset", "subset name is invalid")}},
		{name: "destination bad port", spec: vsHTTP(`{"route":[{"destination":{"host":"a","port":{"number":0}}}]}`),
			want: []wantFinding{wantErr(h+".route[0].destination.port.number", "1..65535")}},

		{name: "timeout below 1ms", spec: vsHTTP(`{"timeout":"0s",` + toReviews + `}`),
			want: []wantFinding{wantErr(h+".timeout", "greater than 1ms")}},
		{name: "timeout sub-ms precision", spec: vsHTTP(`{"timeout":"1.0005s",` + toReviews + `}`),
			want: []wantFinding{wantErr(h+".timeout", "ms precision")}},
		{name: "valid retries", spec: vsHTTP(`{"retries":{"attempts":3,"perTryTimeout":"2s","retryOn":"5xx,connect-failure,503"},` + toReviews + `}`)},
		{name: "negative attempts", spec: vsHTTP(`{"retries":{"attempts":-1},` + toReviews + `}`),
			want: []wantFinding{wantErr(h+".retries.attempts", "cannot be negative")}},
		{name: "retry policy with zero attempts", spec: vsHTTP(`{"retries":{"retryOn":"5xx"},` + toReviews + `}`),
			want: []wantFinding{wantErr(h+".retries", "attempts are set to 0")}},
		{name: "bad retryOn", spec: vsHTTP(`{"retries":{"attempts":2,"retryOn":"5xx, reset"},` + toReviews + `}`),
			want: []wantFinding{wantErr(h+".retries.retryOn", `" reset" is not a valid retryOn policy`)}},
		{name: "bad perTryTimeout", spec: vsHTTP(`{"retries":{"attempts":2,"perTryTimeout":"0.0001s"},` + toReviews + `}`),
			want: []wantFinding{wantErr(h+".retries.perTryTimeout", "greater than 1ms")}},

		{name: "redirect needs a target", spec: vsHTTP(`{"redirect":{"redirectCode":301}}`),
			want: []wantFinding{wantErr(h+".redirect", "redirect must specify")}},
		{name: "redirect code not 3xx", spec: vsHTTP(`{"redirect":{"uri":"/a","redirectCode":200}}`),
			want: []wantFinding{wantErr(h+".redirect.redirectCode", "must be 3xx")}},
		{name: "redirect scheme", spec: vsHTTP(`{"redirect":{"scheme":"ftp"}}`),
			want: []wantFinding{wantErr(h+".redirect.scheme", "invalid redirect scheme")}},
		{name: "redirect port range", spec: vsHTTP(`{"redirect":{"port":70000}}`),
			want: []wantFinding{wantErr(h+".redirect.port", "1..65535")}},
		{name: "directResponse status", spec: vsHTTP(`{"directResponse":{"status":100}}`),
			want: []wantFinding{wantErr(h+".directResponse.status", "not in range 200-599")}},
		{name: "directResponse large body", spec: vsHTTP(`{"directResponse":{"status":200,"body":{"string":"` + strings.Repeat("x", 200*1024) + `"}}}`),
			want: []wantFinding{wantWarn(h+".directResponse.body", "may impact control plane performance")}},
		{name: "directResponse too large body", spec: vsHTTP(`{"directResponse":{"status":200,"body":{"string":"` + strings.Repeat("x", 2*1024*1024) + `"}}}`),
			want: []wantFinding{wantErr(h+".directResponse.body", "must be less than 1MB")}},
		{name: "rewrite empty", spec: vsHTTP(`{"rewrite":{},` + toReviews + `}`),
			want: []wantFinding{wantErr(h+".rewrite", "must specify at least one of")}},
		{name: "rewrite uri and regex", spec: vsHTTP(`{"rewrite":{"uri":"/a","uriRegexRewrite":{"match":"^/b","rewrite":"/c"}},` + toReviews + `}`),
			want: []wantFinding{wantErr(h+".rewrite", "may only contain one of uri or uriRegexRewrite")}},
		{name: "rewrite regex incomplete", spec: vsHTTP(`{"rewrite":{"uriRegexRewrite":{"match":"^/b"}},` + toReviews + `}`),
			want: []wantFinding{wantErr(h+".rewrite.uriRegexRewrite", "requires both rewrite and match")}},
		{name: "rewrite regex invalid", spec: vsHTTP(`{"rewrite":{"uriRegexRewrite":{"match":"(","rewrite":"/c"}},` + toReviews + `}`),
			want: []wantFinding{wantErr(h+".rewrite.uriRegexRewrite.match", "RE2")}},
		{name: "authority set twice", spec: vsHTTP(`{"rewrite":{"authority":"a.com"},"headers":{"request":{"set":{":authority":"b.com"}}},` + toReviews + `}`),
			want: []wantFinding{wantErr(h+".headers.request.set[:authority]", "authority header cannot be set multiple times")}},
	})
}

func TestVirtualServiceHTTPPolicies(t *testing.T) {
	t.Parallel()
	h := "spec.http[0]"
	runCases(t, []validationCase{
		{name: "fault needs abort or delay", spec: vsHTTP(`{"fault":{},` + toReviews + `}`),
			want: []wantFinding{wantErr(h+".fault", "must have an abort and/or a delay")}},
		{name: "fault percentage above 100", spec: vsHTTP(`{"fault":{"abort":{"httpStatus":503,"percentage":{"value":101}}},` + toReviews + `}`),
			want: []wantFinding{wantErr(h+".fault.abort.percentage", "[0.0001, 100.0]")}},
		{name: "fault percentage too small", spec: vsHTTP(`{"fault":{"delay":{"fixedDelay":"1s","percentage":{"value":0.00001}}},` + toReviews + `}`),
			want: []wantFinding{wantErr(h+".fault.delay.percentage", "[0.0001, 100.0]")}},
		{name: "fault deprecated percent", spec: vsHTTP(`{"fault":{"delay":{"fixedDelay":"1s","percent":150}},` + toReviews + `}`),
			want: []wantFinding{wantErr(h+".fault.delay.percent", "0..100")}},
		{name: "fault abort status", spec: vsHTTP(`{"fault":{"abort":{"httpStatus":99}},` + toReviews + `}`),
			want: []wantFinding{wantErr(h+".fault.abort.httpStatus", "200-599")}},
		{name: "fault grpc status", spec: vsHTTP(`{"fault":{"abort":{"grpcStatus":"NOPE"}},` + toReviews + `}`),
			want: []wantFinding{wantErr(h+".fault.abort.grpcStatus", `gRPC status "NOPE" is not supported`)}},
		{name: "fault abort without error type", spec: vsHTTP(`{"fault":{"abort":{"percentage":{"value":10}}},` + toReviews + `}`),
			want: []wantFinding{wantWarn(h+".fault.abort", "error type not set")}},
		{name: "fault fixed delay", spec: vsHTTP(`{"fault":{"delay":{"fixedDelay":"0s"}},` + toReviews + `}`),
			want: []wantFinding{wantErr(h+".fault.delay.fixedDelay", "greater than 1ms")}},
		{name: "fault exponential delay", spec: vsHTTP(`{"fault":{"delay":{"exponentialDelay":"1s"}},` + toReviews + `}`),
			want: []wantFinding{wantErr(h+".fault.delay.exponentialDelay", "not supported yet")}},

		{name: "mirror bad host", spec: vsHTTP(`{"mirror":{"host":"*"},` + toReviews + `}`),
			want: []wantFinding{wantErr(h+".mirror.host", "invalid destination host")}},
		{name: "mirrorPercentage above 100", spec: vsHTTP(`{"mirror":{"host":"a"},"mirrorPercentage":{"value":150},` + toReviews + `}`),
			want: []wantFinding{wantErr(h+".mirrorPercentage", "max value of 100")}},
		{name: "mirrorPercent deprecated", spec: vsHTTP(`{"mirror":{"host":"a"},"mirrorPercent":50,` + toReviews + `}`),
			want: []wantFinding{wantWarn(h+".mirrorPercent", "deprecated")}},
		{name: "mirrors need destination", spec: vsHTTP(`{"mirrors":[{"percentage":{"value":5}}],` + toReviews + `}`),
			want: []wantFinding{wantErr(h+".mirrors[0].destination", "destination is required for mirrors")}},
		{name: "mirrors percentage negative", spec: vsHTTP(`{"mirrors":[{"destination":{"host":"a"},"percentage":{"value":-1}}],` + toReviews + `}`),
			want: []wantFinding{wantErr(h+".mirrors[0].percentage", "min value of 0")}},

		{name: "valid cors", spec: vsHTTP(`{"corsPolicy":{"allowOrigins":[{"exact":"https://a.com"},{"regex":".*\\.b\\.com"}],"allowMethods":["GET","*"],"allowHeaders":["x-a","*"],"maxAge":"86400s"},` + toReviews + `}`)},
		{name: "cors empty origin", spec: vsHTTP(`{"corsPolicy":{"allowOrigins":[{"exact":""}]},` + toReviews + `}`),
			want: []wantFinding{wantErr(h+".corsPolicy.allowOrigins[0]", "not a valid match type for CORS allow origins")}},
		{name: "cors bad origin regex", spec: vsHTTP(`{"corsPolicy":{"allowOrigins":[{"regex":"["}]},` + toReviews + `}`),
			want: []wantFinding{wantErr(h+".corsPolicy.allowOrigins[0].regex", "RE2")}},
		{name: "cors bad method", spec: vsHTTP(`{"corsPolicy":{"allowMethods":["get"]},` + toReviews + `}`),
			want: []wantFinding{wantErr(h+".corsPolicy.allowMethods[0]", "not a supported HTTP method")}},
		{name: "cors bad header", spec: vsHTTP(`{"corsPolicy":{"exposeHeaders":["x y"]},` + toReviews + `}`),
			want: []wantFinding{wantErr(h+".corsPolicy.exposeHeaders[0]", "not a valid header name")}},
		{name: "cors maxAge precision", spec: vsHTTP(`{"corsPolicy":{"maxAge":"1.5s"},` + toReviews + `}`),
			want: []wantFinding{wantErr(h+".corsPolicy.maxAge", "seconds precision")}},

		{name: "valid header operations", spec: vsHTTP(`{"headers":{"request":{"set":{"x-a":"%DOWNSTREAM_REMOTE_ADDRESS%","host":"a.com"},"add":{"x-b":"100%%"},"remove":["x-c"]},"response":{"set":{"x-d":"%START_TIME(%s)%"}}},` + toReviews + `}`)},
		{name: "request set pseudo-header", spec: vsHTTP(`{"headers":{"request":{"set":{":path":"/x"}}},` + toReviews + `}`),
			want: []wantFinding{wantErr(h+".headers.request.set[:path]", `cannot have ":" prefix`)}},
		{name: "request remove host", spec: vsHTTP(`{"headers":{"request":{"remove":["Host"]}},` + toReviews + `}`),
			want: []wantFinding{wantErr(h+".headers.request.remove[0]", "cannot set Host header")}},
		{name: "response set empty name", spec: vsHTTP(`{"headers":{"response":{"set":{"":"a"}}},` + toReviews + `}`),
			want: []wantFinding{wantErr(h+".headers.response.set[]", "header name cannot be empty")}},
		{name: "header value unterminated variable", spec: vsHTTP(`{"headers":{"response":{"add":{"x-a":"%START_TIME"}}},` + toReviews + `}`),
			want: []wantFinding{wantErr(h+".headers.response.add[x-a]", "un-terminated variable")}},
		{name: "header value trailing percent", spec: vsHTTP(`{"headers":{"response":{"add":{"x-a":"100%"}}},` + toReviews + `}`),
			want: []wantFinding{wantErr(h+".headers.response.add[x-a]", "un-escaped %")}},
		{name: "header value control character", spec: vsHTTP(`{"headers":{"request":{"add":{"x-a":"a\nb"}}},` + toReviews + `}`),
			want: []wantFinding{wantErr(h+".headers.request.add[x-a]", "control characters")}},
		{name: "destination header operations", spec: vsHTTP(`{"route":[{"destination":{"host":"a"},"headers":{"response":{"set":{":status":"200"}}}}]}`),
			want: []wantFinding{wantErr(h+".route[0].headers.response.set[:status]", `cannot have ":" prefix`)}},
	})
}

func TestVirtualServiceHTTPMatch(t *testing.T) {
	t.Parallel()
	m := "spec.http[0].match[0]"
	match := func(js string) *networking.VirtualService {
		return vsHTTP(`{"match":[` + js + `],` + toReviews + `}`)
	}
	runCases(t, []validationCase{
		{name: "valid match", spec: match(`{"uri":{"prefix":""},"headers":{"x-user":{"exact":""}},"withoutHeaders":{"x-b":{"regex":"*"}},"queryParams":{"q":{"regex":"^a+$"}},"port":80,"sourceLabels":{"app":"a"},"sourceNamespace":"ns"}`)},
		{name: "empty prefix in authority", spec: match(`{"authority":{"prefix":""}}`),
			want: []wantFinding{wantErr(m+".authority.prefix", "prefix string match should not be empty")}},
		{name: "empty prefix in header", spec: match(`{"headers":{"x-a":{"prefix":""}}}`),
			want: []wantFinding{wantErr(m+".headers[x-a].prefix", "prefix string match should not be empty")}},
		{name: "empty regex in uri", spec: match(`{"uri":{"regex":""}}`),
			want: []wantFinding{wantErr(m+".uri.regex", "regex string match should not be empty")}},
		{name: "invalid regex in uri", spec: match(`{"uri":{"regex":"/a(?=b)"}}`),
			want: []wantFinding{wantErr(m+".uri.regex", "RE2")}},
		{name: "regex too long", spec: match(`{"method":{"regex":"` + strings.Repeat("a", 1025) + `"}}`),
			want: []wantFinding{wantErr(m+".method.regex", "max length allowed is 1024")}},
		{name: "invalid regex in query param", spec: match(`{"queryParams":{"q":{"regex":"("}}}`),
			want: []wantFinding{wantErr(m+".queryParams[q].regex", "RE2")}},
		{name: "bad header name", spec: match(`{"headers":{"x a":{"exact":"b"}}}`),
			want: []wantFinding{wantErr(m+".headers[x a]", "not a valid header name")}},
		{name: "bad withoutHeaders name", spec: match(`{"withoutHeaders":{"x:b":{"exact":"b"}}}`),
			want: []wantFinding{wantErr(m+".withoutHeaders[x:b]", "not a valid header name")}},
		{name: "bad match port", spec: match(`{"port":70000}`),
			want: []wantFinding{wantErr(m+".port", "1..65535")}},
		{name: "bad source label", spec: match(`{"sourceLabels":{"a b":"c"}}`),
			want: []wantFinding{wantErr(m+".sourceLabels[a b]", "invalid label key")}},
		{name: "bad source namespace", spec: match(`{"sourceNamespace":"Bad_NS"}`),
			want: []wantFinding{wantErr(m+".sourceNamespace", "sourceNamespace match")}},
		{name: "bad match gateway", spec: match(`{"gateways":["ns/Bad_GW"]}`),
			want: []wantFinding{wantErr(m+".gateways[0]", "invalid value for gateway name")}},
	})
}

func TestVirtualServiceL4Routes(t *testing.T) {
	t.Parallel()
	tlsVS := func(hosts, sni string) *networking.VirtualService {
		return virtualServiceJSON(`{"hosts":[` + hosts + `],"gateways":["ns/gw"],"tls":[{"match":[{"sniHosts":[` + sni + `]}],"route":[{"destination":{"host":"a"}}]}]}`)
	}
	runCases(t, []validationCase{
		{name: "valid tls route", spec: tlsVS(`"*.example.com"`, `"a.example.com"`)},
		{name: "valid generated SNI", spec: tlsVS(`"*"`, `"outbound_.80_._.a.example.com"`)},
		{name: "sni not covered by hosts", spec: tlsVS(`"a.example.com"`, `"b.example.com"`),
			want: []wantFinding{wantErr("spec.tls[0].match[0].sniHosts[0]", "not a compatible subset")}},
		{name: "sni is an IP", spec: tlsVS(`"a.example.com"`, `"10.0.0.1"`),
			want: []wantFinding{wantWarn("spec.tls[0].match[0].sniHosts[0]", "goes against SNI spec")}},
		{name: "sni invalid", spec: tlsVS(`"a.example.com"`, `"a..example.com"`),
			want: []wantFinding{wantErr("spec.tls[0].match[0].sniHosts[0]", "invalid")}},
		{name: "tls route needs match and route", spec: virtualServiceJSON(`{"hosts":["a.com"],"tls":[{}]}`),
			want: []wantFinding{wantErr("spec.tls[0].match", "at least one match condition"), wantErr("spec.tls[0].route", "TLS route is required")}},
		{name: "tls match needs sniHosts", spec: virtualServiceJSON(`{"hosts":["a.com"],"tls":[{"match":[{"port":443}],"route":[{"destination":{"host":"a"}}]}]}`),
			want: []wantFinding{wantErr("spec.tls[0].match[0].sniHosts", "at least one SNI host")}},
		{name: "tls match bad subnet", spec: virtualServiceJSON(`{"hosts":["a.com"],"tls":[{"match":[{"sniHosts":["a.com"],"destinationSubnets":["10.0.0.0/33"]}],"route":[{"destination":{"host":"a"}}]}]}`),
			want: []wantFinding{wantErr("spec.tls[0].match[0].destinationSubnets[0]", "not a valid CIDR")}},
		{name: "tcp route needs route", spec: virtualServiceJSON(`{"hosts":["a.com"],"tcp":[{"match":[{"port":9000}]}]}`),
			want: []wantFinding{wantErr("spec.tcp[0].route", "TCP route is required")}},
		{name: "tcp match bad subnet and port", spec: virtualServiceJSON(`{"hosts":["a.com"],"tcp":[{"match":[{"port":70000,"destinationSubnets":["nope"]}],"route":[{"destination":{"host":"a"}}]}]}`),
			want: []wantFinding{wantErr("spec.tcp[0].match[0].destinationSubnets[0]", "not a valid IP"), wantErr("spec.tcp[0].match[0].port", "1..65535")}},
		{name: "tcp total weight zero", spec: virtualServiceJSON(`{"hosts":["a.com"],"tcp":[{"route":[{"destination":{"host":"a"}},{"destination":{"host":"b"}}]}]}`),
			want: []wantFinding{wantErr("spec.tcp[0].route", "total destination weight = 0")}},
	})
}

func TestVirtualServiceUnreachableRules(t *testing.T) {
	t.Parallel()
	runCases(t, []validationCase{
		{name: "catch-all before other rules", spec: vsHTTP(`{`+toReviews+`}`, `{"match":[{"uri":{"exact":"/a"}}],`+toReviews+`}`),
			want: []wantFinding{wantWarn("spec.http[1]", "route without matches defined before")}},
		{name: "two catch-alls", spec: vsHTTP(`{`+toReviews+`}`, `{`+toReviews+`}`),
			want: []wantFinding{wantWarn("spec.http[1]", "only the last rule can have no matches")}},
		{name: "duplicate match", spec: vsHTTP(`{"name":"first","match":[{"uri":{"exact":"/a"}}],`+toReviews+`}`, `{"match":[{"name":"dup","uri":{"exact":"/a"}}],`+toReviews+`}`),
			want: []wantFinding{
				wantWarn("spec.http[1].match[0]", `rule #1 match "dup" is not used (duplicate/overlapping match in rule "first")`),
				wantWarn("spec.http[1]", "all matches used by prior rules"),
			}},
		{name: "shorter prefix first shadows longer", spec: vsHTTP(`{"match":[{"uri":{"prefix":"/"}}],`+toReviews+`}`, `{"match":[{"uri":{"prefix":"/api"}},{"uri":{"prefix":"/x"},"headers":{"a":{"exact":"b"}}}],`+toReviews+`}`),
			want: []wantFinding{
				wantWarn("spec.http[1].match[0]", "is not used"),
				wantWarn("spec.http[1].match[1]", "is not used"),
				wantWarn("spec.http[1]", "all matches used by prior rules"),
			}},
		{name: "longer prefix first is fine", spec: vsHTTP(`{"match":[{"uri":{"prefix":"/api"}}],`+toReviews+`}`, `{"match":[{"uri":{"prefix":"/"}}],`+toReviews+`}`)},
		{name: "narrower earlier match does not shadow", spec: vsHTTP(`{"match":[{"uri":{"prefix":"/"},"method":{"exact":"GET"}}],`+toReviews+`}`, `{"match":[{"uri":{"prefix":"/api"}}],`+toReviews+`}`)},
		{name: "duplicate tcp match", spec: virtualServiceJSON(`{"hosts":["a.com"],"tcp":[{"match":[{"port":1}],"route":[{"destination":{"host":"a"}}]},{"match":[{"port":1}],"route":[{"destination":{"host":"a"}}]}]}`),
			want: []wantFinding{wantWarn("spec.tcp[1].match[0]", "is not used"), wantWarn("spec.tcp[1]", "all matches used by prior rules")}},
	})
}
