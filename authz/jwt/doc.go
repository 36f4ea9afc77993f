// Package jwt implements Istio's RequestAuthentication the way Envoy's jwt_authn filter enforces it
// when istiod configures it: every jwtRule is a provider, a request without a token passes with no
// identity, and a token that is present must verify against a rule whose issuer and location it
// matches, or the request is denied with Envoy's reason text and www-authenticate header.
//
// Decisions where Istio and Envoy are silent or unsafe (the reasons are in the code):
//   - the same token in several locations counts once; two different tokens are each verified
//     and, even when both are valid, denied with "Found multiple Jwt tokens";
//   - tokens over 16 KiB fail with "Jwt verification fails" before any decoding;
//   - symmetric (oct) JWKS keys are dropped, so HS* never verifies;
//   - a request that needs keys not fetched yet waits for the fetch up to the rule's timeout;
//     an unknown kid refetches the JWKS at most once per 10 s per URL.
//
// It owns token extraction, parsing, signature verification (through lestrrat-go/jwx, never
// hand-written crypto), the JWKS cache and OIDC discovery (Keys), and the verified-token cache.
// It must not know about AuthorizationPolicy, workload selection or the servers: the authz engine
// selects which RequestAuthentication resources apply and calls NewAuthenticator and Authenticate.
package jwt
