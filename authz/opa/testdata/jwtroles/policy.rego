# A policy in opa-envoy-plugin's style: the bearer token's roles decide which methods and paths
# a caller may use; a missing token gets a 401 with a JSON body.
package envoy.authz

import input.attributes.request.http as http_request

default allow := {
	"allowed": false,
	"http_status": 401,
	"body": "{\"error\":\"unauthenticated\"}",
	"headers": {"www-authenticate": "Bearer realm=\"books\""},
}

allow := {
	"allowed": true,
	"headers": {"x-user": claims.sub, "x-roles": concat(",", claims.roles)},
	"request_headers_to_remove": ["authorization"],
	"response_headers_to_add": {"x-policy": "jwtroles"},
	"dynamic_metadata": {"user": claims.sub, "roles": count(claims.roles)},
} if {
	action_allowed
}

allow := {"allowed": false, "http_status": 403, "body": "forbidden"} if {
	claims.sub
	not action_allowed
}

claims := payload if {
	[_, encoded] := split(http_request.headers.authorization, " ")
	[_, payload, _] := io.jwt.decode(encoded)
}

action_allowed if {
	http_request.method == "GET"
	input.parsed_path[0] == "books"
	some role in claims.roles
	role in data.roles.readers
}

action_allowed if {
	http_request.method == "POST"
	input.parsed_path == ["books"]
	"writer" in claims.roles
}
