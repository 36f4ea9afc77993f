package e2e

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/test/peers/oidcpeer"
	"github.com/gatehouse-dev/gatehouse/test/peers/redispeer"
)

// The real peers of the OIDC login tests (issue 7): npm oidc-provider, driven by
// test/peers/oidc/provider.mjs, and Debian's redis-server. test/peers/install.sh installs both.

// startOIDCProvider starts oidc-provider with a certificate from this package's test PKI when
// tlsPair is set, on a port from freePort so it never meets the gatehouse instances' ports.
func startOIDCProvider(t *testing.T, o oidcpeer.Options, tlsCA *ca, tlsPair *pair) *oidcpeer.Peer {
	t.Helper()
	o.Port = freePort(t)
	if tlsPair != nil {
		o.CertFile, o.KeyFile = tlsPair.certFile, tlsPair.keyFile
		o.RootCAs = x509.NewCertPool()
		o.RootCAs.AddCert(tlsCA.cert)
	}
	return oidcpeer.Start(t, o)
}

// jwtClaims returns the unverified payload of a JWT, for asserting on what a peer issued.
func jwtClaims(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS compact serialization: %q", jwt)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	claims := map[string]any{}
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

// startRedis starts a throwaway redis-server (no persistence) on a free loopback port and
// returns its address; make test installs it, so its absence fails the test.
func startRedis(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatal("redis-server is not installed: run `make test`, which installs the test peers")
	}
	return redispeer.Start(t)
}

// pkcePair returns a PKCE verifier and its S256 challenge (RFC 7636 4.1, 4.2).
func pkcePair() (verifier, challenge string) {
	verifier = rand.Text() + rand.Text() // 52 unreserved characters; 43 to 128 are allowed
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// TestOIDCPeer checks the peers the OIDC tests rely on, over plain HTTP and HTTPS: discovery, the
// scripted authorization code + PKCE sign-in, the code exchange, rotating refresh, revocation,
// RP-initiated logout, and a Redis that answers.
func TestOIDCPeer(t *testing.T) {
	t.Parallel()
	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		if reply, err := redispeer.Ping(startRedis(t)); err != nil || reply != "+PONG" {
			t.Fatalf("PING: %q, %v", reply, err)
		}
	})
	for _, useTLS := range []bool{false, true} {
		name := map[bool]string{false: "http", true: "https"}[useTLS]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			client := oidcpeer.Client{
				ID: "gatehouse", Secret: "s3cret/with+odd=chars",
				RedirectURIs:           []string{"https://app.example.test/oauth2/callback"},
				PostLogoutRedirectURIs: []string{"https://app.example.test/signed-out"},
			}
			opts := oidcpeer.Options{
				Clients: []oidcpeer.Client{client},
				Users:   []oidcpeer.User{{ID: "alice", Email: "alice@example.com", Groups: []string{"admins", "dev"}}},
				// Short lifetimes, as the refresh tests set them, to see they are taken.
				AccessTokenTTL: 7 * time.Second, IDTokenTTL: 7 * time.Second,
			}
			var peerCA *ca
			var peerPair *pair
			if useTLS {
				peerCA = newCA(t, "oidc-peer-ca")
				p := peerCA.issue(t, leafOpts{dns: []string{"localhost"}})
				peerPair = &p
			}
			peer := startOIDCProvider(t, opts, peerCA, peerPair)
			d := peer.Discovery
			if d.Issuer != peer.Issuer {
				t.Errorf("discovery issuer %q, want %q", d.Issuer, peer.Issuer)
			}
			for name, ep := range map[string]string{"authorization": d.AuthorizationEndpoint, "token": d.TokenEndpoint,
				"userinfo": d.UserinfoEndpoint, "jwks": d.JWKSURI, "revocation": d.RevocationEndpoint, "end_session": d.EndSessionEndpoint} {
				if !strings.HasPrefix(ep, peer.Issuer+"/") {
					t.Errorf("discovery %s endpoint %q is not under the issuer %s", name, ep, peer.Issuer)
				}
			}

			authorize := func(state, challenge string) string {
				return d.AuthorizationEndpoint + "?" + url.Values{
					"response_type": {"code"}, "client_id": {client.ID}, "redirect_uri": {client.RedirectURIs[0]},
					"scope": {"openid email profile groups offline_access"}, "prompt": {"consent"},
					"state": {state}, "nonce": {"nonce-1"},
					"code_challenge": {challenge}, "code_challenge_method": {"S256"},
				}.Encode()
			}
			verifier, challenge := pkcePair()
			cb := peer.SignIn(t, peer.Browser(t), authorize("state-1", challenge), "alice")
			q := cb.Query()
			if got := cb.Scheme + "://" + cb.Host + cb.Path; got != client.RedirectURIs[0] || q.Get("code") == "" || q.Get("state") != "state-1" {
				t.Fatalf("sign-in ended at %s, want %s with a code and state-1", cb, client.RedirectURIs[0])
			}

			exchange := url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")},
				"redirect_uri": {client.RedirectURIs[0]}, "code_verifier": {verifier}}
			status, tok := peer.Token(t, client, exchange)
			if status != http.StatusOK || tok.IDToken == "" || tok.AccessToken == "" || tok.RefreshToken == "" {
				t.Fatalf("code exchange: %d %+v", status, tok)
			}
			claims := jwtClaims(t, tok.IDToken)
			if exp, iat := claims["exp"].(float64), claims["iat"].(float64); tok.ExpiresIn != 7 || exp-iat != 7 {
				t.Errorf("access token expires_in %d, id token lifetime %vs; want 7 and 7", tok.ExpiresIn, exp-iat)
			}
			if claims["iss"] != peer.Issuer || claims["sub"] != "alice" || claims["aud"] != client.ID ||
				claims["nonce"] != "nonce-1" || claims["email"] != "alice@example.com" ||
				fmt.Sprint(claims["groups"]) != "[admins dev]" {
				t.Errorf("id token claims %v", claims)
			}

			refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}
			status, refreshed := peer.Token(t, client, refresh)
			if status != http.StatusOK || refreshed.IDToken == "" || refreshed.AccessToken == "" ||
				refreshed.RefreshToken == "" || refreshed.RefreshToken == tok.RefreshToken {
				t.Fatalf("refresh: %d %+v, want new tokens and a rotated refresh token", status, refreshed)
			}
			if status, again := peer.Token(t, client, refresh); status != http.StatusBadRequest || again.Error != "invalid_grant" {
				t.Errorf("redeeming a rotated refresh token again: %d %+v, want 400 invalid_grant", status, again)
			}
			// Last, as oidc-provider answers a replayed code by revoking what the code gave (RFC 6749
			// 4.1.2 recommends it), the refresh token included.
			if status, again := peer.Token(t, client, exchange); status != http.StatusBadRequest || again.Error != "invalid_grant" {
				t.Errorf("second redemption of the code: %d %+v, want 400 invalid_grant", status, again)
			}

			// Logout as documented in provider.mjs, with a fresh sign-in's session cookie.
			browser := peer.Browser(t)
			verifier2, challenge2 := pkcePair()
			cb = peer.SignIn(t, browser, authorize("state-2", challenge2), "alice")
			status, tok = peer.Token(t, client, url.Values{"grant_type": {"authorization_code"}, "code": {cb.Query().Get("code")},
				"redirect_uri": {client.RedirectURIs[0]}, "code_verifier": {verifier2}})
			if status != http.StatusOK {
				t.Fatalf("second code exchange: %d %+v", status, tok)
			}
			if got := peer.Logout(t, browser, tok.IDToken, client.PostLogoutRedirectURIs[0]); got != client.PostLogoutRedirectURIs[0] {
				t.Errorf("logout ended at %q, want %q", got, client.PostLogoutRedirectURIs[0])
			}

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, d.RevocationEndpoint,
				strings.NewReader(url.Values{"token": {refreshed.RefreshToken}, "token_type_hint": {"refresh_token"}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(url.QueryEscape(client.ID), url.QueryEscape(client.Secret))
			resp, err := peer.Client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("revocation: %d, want 200", resp.StatusCode)
			}
		})
	}
}
