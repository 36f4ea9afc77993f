// Package oidc is the browser sign-in of an OIDCLogin (issue 7): authorization code flow with
// PKCE S256, state and nonce, against any OpenID provider (Dex, oidc-provider, …), with
// server-side sessions from package session. It owns the HTTP exchanges of the login (the
// redirect to the provider, the callback, logout) and the identity headers sent upstream; it
// does not own routing, authorization policy or the session store's implementation.
//
// The gateway (later, the ext_authz adapter too) calls Login.Handle on every request the login
// covers and looks at the Outcome:
//
//   - Answered: Handle wrote the whole response (302 to the provider or back to the original
//     URL, 401, 400 or 503 with a short page). The caller writes nothing more.
//   - otherwise the request passes: the caller applies Outcome.Apply to the request headers
//     (identity headers the client sent removed, ours set) and forwards it. Outcome.Session is
//     the signed-in user, nil on a skip path, for authorization to read claims from.
//
// Browser or API. Only a top-level navigation (GET or HEAD, Accept with text/html, no
// X-Requested-With, Sec-Fetch-Mode absent or "navigate") is sent to the provider. Anything else
// gets 401 with a JSON body and `WWW-Authenticate: Bearer` (RFC 6750 §3); a gRPC request
// (content-type application/grpc*) gets HTTP 200 trailers-only with grpc-status 16
// UNAUTHENTICATED, which is what Envoy sends when it maps a local 401 reply for a gRPC client.
//
// Login attempts. Each redirect to the provider stores a session.LoginAttempt under a fresh
// state, bound to a per-browser random cookie (the session cookie's name + "_login", the same
// prefix and domain rules, no Max-Age). Tabs share the cookie and each has its own state, so
// concurrent sign-ins all succeed; a callback whose state is unknown, already used or bound to
// another browser's cookie gets 400.
//
// Redirect loops. Login attempts are counted per browser cookie in a sliding window
// (LoopWindow, default 1 min); past LoopLimit (default 20, room for many tabs) the browser gets
// an error page instead of another redirect. The usual loop — the session cookie is never sent
// back, so every callback leads to a new login — keeps the browser cookie, so it is counted;
// a browser that keeps no cookie at all fails at the callback (foreign state) and stops there.
// The count is per replica, in memory: it bounds a loop, it is not a quota.
//
// Return URL. The original request's path and query are the only target after the callback,
// checked again then: it must start with a single "/", with no "//", no backslash and no
// control character, so it can never leave the site (see safeReturnTo).
//
// Logout. The logout path deletes the session, revokes its refresh token (else access token)
// at the provider's revocation_endpoint when one is advertised (best effort, RFC 7009), clears
// the cookie and redirects to end_session_endpoint with id_token_hint, client_id and
// post_logout_redirect_uri (logout.redirectTo made absolute on the request's host) when the
// provider advertises one. Dex advertises none: the browser then goes to logout.redirectTo
// directly, and the provider's own sign-in session lives on, so the next login may not ask for
// a password. Logout answers GET, so a cross-site link can sign a user out (SameSite=Lax sends
// the cookie on a top-level navigation): a nuisance, not a compromise, as with oauth2-proxy's
// sign_out.
//
// Cookies. The session and browser cookies are removed from what the upstream receives.
//
// Authorization header. With headers.idToken the session's id token replaces any Authorization
// header the client sent; without it, and on skip paths, Authorization is left alone, since
// RequestAuthentication may accept the client's bearer token there.
//
// The redirect URI is https://<request host><callbackPath>: the provider only redirects to a
// registered one, and Secure cookies need HTTPS anyway.
//
// Refresh. A session whose access or id token expires within 30 s (or the last tenth of its
// lifetime, if shorter) has its tokens refreshed with its refresh token before the request
// passes, single-flight per session through the store's Lock (across replicas with Redis), so
// a rotating refresh token is redeemed once (see refresh.go). A refresh the provider refuses
// ends the session: the request is then unauthenticated and a browser signs in again, with a
// new session, so there is no loop. A session without a refresh token (no offline_access)
// lives for its session lifetimes whatever its tokens' expiry.
package oidc
