package e2e

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The real peers of the OIDC login tests (issue 7): npm oidc-provider, driven by
// test/peers/oidc/provider.mjs, and Debian's redis-server. test/peers/install.sh installs both.

// oidcClient is a relying party registered at the provider.
type oidcClient struct {
	ID                     string   `json:"client_id"`
	Secret                 string   `json:"client_secret"`
	RedirectURIs           []string `json:"redirect_uris"`
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris,omitempty"`
}

// oidcUser is an account that can sign in; its claims come with the email, profile and groups
// scopes, in the id token as well as from userinfo.
type oidcUser struct {
	ID     string   `json:"id"`
	Email  string   `json:"email"`
	Name   string   `json:"name,omitempty"`
	Groups []string `json:"groups,omitempty"`
}

// oidcPeerOpts configures startOIDCProvider. Zero TTLs keep the provider's 5 min tokens and 1 h
// refresh tokens; refresh tests set short ones (oidc-provider counts whole seconds).
type oidcPeerOpts struct {
	Clients         []oidcClient
	Users           []oidcUser
	AccessTokenTTL  time.Duration
	IDTokenTTL      time.Duration
	RefreshTokenTTL time.Duration
	// TLS, when set, serves HTTPS with this certificate, which must be valid for "localhost": the
	// issuer is then https://localhost:PORT, and peer.client trusts CA.
	TLS *pair
	CA  *ca
}

// oidcPeer is a running provider.
type oidcPeer struct {
	*process
	Issuer string
	// Discovery is the provider's openid-configuration document.
	Discovery struct {
		Issuer                string `json:"issuer"`
		AuthorizationEndpoint string `json:"authorization_endpoint"`
		TokenEndpoint         string `json:"token_endpoint"`
		UserinfoEndpoint      string `json:"userinfo_endpoint"`
		JWKSURI               string `json:"jwks_uri"`
		RevocationEndpoint    string `json:"revocation_endpoint"`
		EndSessionEndpoint    string `json:"end_session_endpoint"`
	}
	// client is a plain HTTP client that trusts the provider's certificate, if it has one.
	client *http.Client
}

// peersCacheDir is where test/peers/install.sh puts what it installs outside the Debian packages:
// ${XDG_CACHE_HOME:-$HOME/.cache}/gatehouse-peers.
func peersCacheDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "gatehouse-peers")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(home, ".cache", "gatehouse-peers")
}

// oidcProviderModules returns the node_modules directory holding the oidc-provider version that
// test/peers/oidc/package.json pins, as install.sh laid it out.
func oidcProviderModules(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile("../peers/oidc/package.json")
	if err != nil {
		t.Fatal(err)
	}
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	if err := json.Unmarshal(raw, &pkg); err != nil {
		t.Fatalf("test/peers/oidc/package.json: %v", err)
	}
	dir := filepath.Join(peersCacheDir(t), "oidc-provider-"+pkg.Dependencies["oidc-provider"])
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err != nil {
		t.Fatalf("oidc-provider is not installed in %s: run `make test`, which installs the test peers", dir)
	}
	return filepath.Join(dir, "node_modules")
}

// startPeer runs a peer program until the test ends, keeping its output for failure messages.
func startPeer(t *testing.T, name string, argv ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(argv[0], argv[1:]...), out: &syncBuffer{}}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
		if t.Failed() {
			t.Logf("%s output:\n%s", name, p.out.String())
		}
	})
	return p
}

// startOIDCProvider starts oidc-provider on a free loopback port and waits for its discovery
// document.
func startOIDCProvider(t *testing.T, o oidcPeerOpts) *oidcPeer {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node is not installed: run `make test`, which installs the test peers")
	}
	modules := oidcProviderModules(t)
	port := freePort(t)
	peer := &oidcPeer{client: &http.Client{Timeout: 10 * time.Second}}
	type tlsFiles struct {
		Cert string `json:"cert"`
		Key  string `json:"key"`
	}
	cfg := struct {
		Issuer string `json:"issuer"`
		Listen struct {
			Host string `json:"host"`
			Port int    `json:"port"`
		} `json:"listen"`
		TLS     *tlsFiles        `json:"tls,omitempty"`
		Clients []oidcClient     `json:"clients"`
		Users   []oidcUser       `json:"users"`
		TTL     map[string]int64 `json:"ttl"`
	}{Clients: o.Clients, Users: o.Users, TTL: map[string]int64{}}
	cfg.Listen.Host, cfg.Listen.Port = "127.0.0.1", port
	cfg.Issuer = fmt.Sprintf("http://127.0.0.1:%d", port)
	if o.TLS != nil {
		cfg.Issuer = fmt.Sprintf("https://localhost:%d", port)
		cfg.TLS = &tlsFiles{Cert: o.TLS.certFile, Key: o.TLS.keyFile}
		pool := x509.NewCertPool()
		pool.AddCert(o.CA.cert)
		peer.client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	}
	for name, d := range map[string]time.Duration{"AccessToken": o.AccessTokenTTL, "IdToken": o.IDTokenTTL, "RefreshToken": o.RefreshTokenTTL} {
		if d > 0 {
			cfg.TTL[name] = int64((d + time.Second - 1) / time.Second)
		}
	}
	peer.Issuer = cfg.Issuer
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "oidc-provider.json")
	if err := os.WriteFile(file, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	peer.process = startPeer(t, "oidc-provider", "node", "../peers/oidc/provider.mjs", "--modules", modules, "--config", file)

	discovery := peer.Issuer + "/.well-known/openid-configuration"
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := peer.client.Get(discovery)
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&peer.Discovery)
			resp.Body.Close()
			if err == nil && resp.StatusCode == http.StatusOK {
				return peer
			}
		}
		if peer.cmd.ProcessState != nil || time.Now().After(deadline) {
			t.Fatalf("oidc-provider did not serve %s in time (last error: %v)", discovery, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// browser returns an HTTP client as a browser behaves for these tests: it keeps cookies, trusts
// the provider's CA, and does not follow redirects, so each hop can be checked.
func (p *oidcPeer) browser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{
		Jar: jar, Transport: p.client.Transport, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// interactionForm matches the action of the devInteractions login and consent forms.
var interactionForm = regexp.MustCompile(`<form[^>]*action="([^"]+)"`)

// signIn drives the provider's devInteractions pages from authorizeURL (the provider's
// authorization endpoint with the relying party's parameters) as user login: sign-in form, then
// the consent form when the provider asks for it. It returns the first redirect that leaves the
// provider, normally the relying party's redirect URI with code and state. See provider.mjs for
// the HTTP steps.
func (p *oidcPeer) signIn(t *testing.T, browser *http.Client, authorizeURL, login string) *url.URL {
	t.Helper()
	issuer, err := url.Parse(p.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	next, err := url.Parse(authorizeURL)
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if next.Host != issuer.Host {
			return next
		}
		resp, err := browser.Get(next.String())
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Logf("sign-in: GET %s: %d %s", next, resp.StatusCode, resp.Header.Get("Location"))
		switch {
		case resp.StatusCode == http.StatusSeeOther || resp.StatusCode == http.StatusFound:
			next, err = resp.Request.URL.Parse(resp.Header.Get("Location"))
			if err != nil {
				t.Fatal(err)
			}
			continue
		case resp.StatusCode != http.StatusOK:
			t.Fatalf("GET %s: %d: %s", next, resp.StatusCode, body)
		}
		// An interaction page: post its form, as a user clicking the button.
		m := interactionForm.FindSubmatch(body)
		if m == nil {
			t.Fatalf("GET %s: no interaction form in:\n%s", next, body)
		}
		action, err := next.Parse(string(m[1]))
		if err != nil {
			t.Fatal(err)
		}
		form := url.Values{"prompt": {"consent"}}
		if strings.Contains(string(body), `name="login"`) {
			form = url.Values{"prompt": {"login"}, "login": {login}, "password": {"any"}}
		}
		resp, err = browser.PostForm(action.String(), form)
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Logf("sign-in: POST %s %v: %d %s", action, form, resp.StatusCode, resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusFound {
			t.Fatalf("POST %s %v: %d: %s", action, form, resp.StatusCode, body)
		}
		if next, err = action.Parse(resp.Header.Get("Location")); err != nil {
			t.Fatal(err)
		}
	}
	t.Fatalf("signing in from %s did not leave the provider within 10 steps", authorizeURL)
	return nil
}

// oidcTokens is a token endpoint response.
type oidcTokens struct {
	AccessToken  string `json:"access_token"`
	IDToken      string `json:"id_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int    `json:"expires_in"`
	Error        string `json:"error"`
}

// token posts form to the token endpoint with the client's secret (client_secret_basic) and
// returns the status and the decoded answer.
func (p *oidcPeer) token(t *testing.T, c oidcClient, form url.Values) (int, oidcTokens) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, p.Discovery.TokenEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(c.ID), url.QueryEscape(c.Secret))
	resp, err := p.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok oidcTokens
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil {
		t.Fatalf("token endpoint: %d: %v", resp.StatusCode, err)
	}
	return resp.StatusCode, tok
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

// startRedis starts a redis-server on a free loopback port, with no persistence, and returns its
// address once it answers PING.
func startRedis(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal("redis-server is not installed: run `make test`, which installs the test peers")
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	_, port, _ := net.SplitHostPort(addr)
	p := startPeer(t, "redis-server", bin, "--bind", "127.0.0.1", "--port", port,
		"--save", "", "--appendonly", "no", "--dir", t.TempDir(), "--daemonize", "no")
	deadline := time.Now().Add(15 * time.Second)
	for {
		reply, err := redisPing(addr)
		if err == nil && reply == "+PONG" {
			return addr
		}
		if p.cmd.ProcessState != nil || time.Now().After(deadline) {
			t.Fatalf("redis-server on %s did not answer PING in time (last: %q, %v)", addr, reply, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// redisPing sends an inline PING and returns the reply line.
func redisPing(addr string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	return strings.TrimRight(line, "\r\n"), err
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
		if reply, err := redisPing(startRedis(t)); err != nil || reply != "+PONG" {
			t.Fatalf("PING: %q, %v", reply, err)
		}
	})
	for _, useTLS := range []bool{false, true} {
		name := map[bool]string{false: "http", true: "https"}[useTLS]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			client := oidcClient{
				ID: "gatehouse", Secret: "s3cret/with+odd=chars",
				RedirectURIs:           []string{"https://app.example.test/oauth2/callback"},
				PostLogoutRedirectURIs: []string{"https://app.example.test/signed-out"},
			}
			opts := oidcPeerOpts{
				Clients: []oidcClient{client},
				Users:   []oidcUser{{ID: "alice", Email: "alice@example.com", Groups: []string{"admins", "dev"}}},
				// Short lifetimes, as the refresh tests set them, to see they are taken.
				AccessTokenTTL: 7 * time.Second, IDTokenTTL: 7 * time.Second,
			}
			if useTLS {
				opts.CA = newCA(t, "oidc-peer-ca")
				p := opts.CA.issue(t, leafOpts{dns: []string{"localhost"}})
				opts.TLS = &p
			}
			peer := startOIDCProvider(t, opts)
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
			cb := peer.signIn(t, peer.browser(t), authorize("state-1", challenge), "alice")
			q := cb.Query()
			if got := cb.Scheme + "://" + cb.Host + cb.Path; got != client.RedirectURIs[0] || q.Get("code") == "" || q.Get("state") != "state-1" {
				t.Fatalf("sign-in ended at %s, want %s with a code and state-1", cb, client.RedirectURIs[0])
			}

			exchange := url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")},
				"redirect_uri": {client.RedirectURIs[0]}, "code_verifier": {verifier}}
			status, tok := peer.token(t, client, exchange)
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
			status, refreshed := peer.token(t, client, refresh)
			if status != http.StatusOK || refreshed.IDToken == "" || refreshed.AccessToken == "" ||
				refreshed.RefreshToken == "" || refreshed.RefreshToken == tok.RefreshToken {
				t.Fatalf("refresh: %d %+v, want new tokens and a rotated refresh token", status, refreshed)
			}
			if status, again := peer.token(t, client, refresh); status != http.StatusBadRequest || again.Error != "invalid_grant" {
				t.Errorf("redeeming a rotated refresh token again: %d %+v, want 400 invalid_grant", status, again)
			}
			// Last, as oidc-provider answers a replayed code by revoking what the code gave (RFC 6749
			// 4.1.2 recommends it), the refresh token included.
			if status, again := peer.token(t, client, exchange); status != http.StatusBadRequest || again.Error != "invalid_grant" {
				t.Errorf("second redemption of the code: %d %+v, want 400 invalid_grant", status, again)
			}

			// Logout as documented in provider.mjs, with a fresh sign-in's session cookie.
			browser := peer.browser(t)
			verifier2, challenge2 := pkcePair()
			cb = peer.signIn(t, browser, authorize("state-2", challenge2), "alice")
			status, tok = peer.token(t, client, url.Values{"grant_type": {"authorization_code"}, "code": {cb.Query().Get("code")},
				"redirect_uri": {client.RedirectURIs[0]}, "code_verifier": {verifier2}})
			if status != http.StatusOK {
				t.Fatalf("second code exchange: %d %+v", status, tok)
			}
			if got := peer.logout(t, browser, tok.IDToken, client.PostLogoutRedirectURIs[0]); got != client.PostLogoutRedirectURIs[0] {
				t.Errorf("logout ended at %q, want %q", got, client.PostLogoutRedirectURIs[0])
			}

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, d.RevocationEndpoint,
				strings.NewReader(url.Values{"token": {refreshed.RefreshToken}, "token_type_hint": {"refresh_token"}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(url.QueryEscape(client.ID), url.QueryEscape(client.Secret))
			resp, err := peer.client.Do(req)
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

// xsrfField matches the hidden field of oidc-provider's logout confirmation form.
var xsrfField = regexp.MustCompile(`name="xsrf" value="([^"]+)"`)

// logout performs RP-initiated logout in browser and returns where the provider sent it.
func (p *oidcPeer) logout(t *testing.T, browser *http.Client, idToken, postLogout string) string {
	t.Helper()
	resp, err := browser.Get(p.Discovery.EndSessionEndpoint + "?" + url.Values{
		"id_token_hint": {idToken}, "post_logout_redirect_uri": {postLogout}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := xsrfField.FindSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("end_session: %d, no xsrf field in:\n%s", resp.StatusCode, body)
	}
	resp, err = browser.PostForm(p.Discovery.EndSessionEndpoint+"/confirm", url.Values{"xsrf": {string(m[1])}, "logout": {"yes"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusFound {
		t.Fatalf("end_session confirm: %d, want a redirect", resp.StatusCode)
	}
	return resp.Header.Get("Location")
}
