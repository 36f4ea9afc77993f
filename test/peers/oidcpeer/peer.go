// Package oidcpeer starts the real OpenID provider the OIDC login tests sign in against (npm
// oidc-provider, driven by test/peers/oidc/provider.mjs, installed by test/peers/install.sh)
// and scripts a browser through its sign-in and logout pages. It is a test helper: both
// test/e2e and authz/oidc use it, so neither tests against a fake that shares our reading of
// the specifications.
package oidcpeer

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/test/peers/loopback"
	"github.com/gatehouse-dev/gatehouse/test/peers/peerdir"
)

// Client is a relying party registered at the provider.
type Client struct {
	ID                     string   `json:"client_id"`
	Secret                 string   `json:"client_secret"`
	RedirectURIs           []string `json:"redirect_uris"`
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris,omitempty"`
}

// User is an account that can sign in; its claims come with the email, profile and groups
// scopes, in the id token as well as from userinfo.
type User struct {
	ID     string   `json:"id"`
	Email  string   `json:"email"`
	Name   string   `json:"name,omitempty"`
	Groups []string `json:"groups,omitempty"`
}

// Options configure Start. Zero TTLs keep the provider's 5 min tokens and 1 h refresh tokens;
// refresh tests set short ones (oidc-provider counts whole seconds).
type Options struct {
	Clients         []Client
	Users           []User
	AccessTokenTTL  time.Duration
	IDTokenTTL      time.Duration
	RefreshTokenTTL time.Duration
	// Port to listen on, on 127.0.0.1; 0 picks a free one.
	Port int
	// CertFile and KeyFile, when set, serve HTTPS with a certificate that must be valid for
	// "localhost": the issuer is then https://localhost:PORT, and Peer.Client trusts RootCAs.
	CertFile, KeyFile string
	RootCAs           *x509.CertPool
}

// Discovery is the part of the provider's openid-configuration document tests look at.
type Discovery struct {
	Issuer                string `json:"issuer"`
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
	UserinfoEndpoint      string `json:"userinfo_endpoint"`
	JWKSURI               string `json:"jwks_uri"`
	RevocationEndpoint    string `json:"revocation_endpoint"`
	EndSessionEndpoint    string `json:"end_session_endpoint"`
}

// Peer is a running provider, stopped when the test ends.
type Peer struct {
	Issuer    string
	Discovery Discovery
	// Client is a plain HTTP client that trusts the provider's certificate, if it has one.
	Client *http.Client

	cmd *exec.Cmd
	out *syncBuffer
}

// Output is what the provider printed so far.
func (p *Peer) Output() string { return p.out.String() }

// peersDir is test/peers, found from this file's location so that tests in any package can
// start the provider whatever their working directory.
func peersDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

// Installed returns the node_modules directory holding the oidc-provider version that
// test/peers/oidc/package.json pins, as install.sh laid it out, or why it cannot be used.
func Installed() (string, error) {
	if _, err := exec.LookPath("node"); err != nil {
		return "", fmt.Errorf("node is not installed: run `make test`, which installs the test peers")
	}
	raw, err := os.ReadFile(filepath.Join(peersDir(), "oidc", "package.json"))
	if err != nil {
		return "", err
	}
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	if err := json.Unmarshal(raw, &pkg); err != nil {
		return "", fmt.Errorf("test/peers/oidc/package.json: %w", err)
	}
	cache, err := peerdir.Cache()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cache, "oidc-provider-"+pkg.Dependencies["oidc-provider"])
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err != nil {
		return "", fmt.Errorf("oidc-provider is not installed in %s: run `make test`, which installs the test peers", dir)
	}
	return filepath.Join(dir, "node_modules"), nil
}

// SkipIfMissing skips the test when the provider is not installed; the end-to-end tests fail
// instead (Start does), since `make test` installs it.
func SkipIfMissing(t testing.TB) {
	t.Helper()
	if _, err := Installed(); err != nil {
		t.Skipf("skipping: %v", err)
	}
}

// Start starts oidc-provider on 127.0.0.1 and waits for its discovery document.
func Start(t testing.TB, o Options) *Peer {
	t.Helper()
	modules, err := Installed()
	if err != nil {
		t.Fatal(err)
	}
	port := o.Port
	if port == 0 {
		port = loopback.FreePort(t)
	}
	peer := &Peer{Client: &http.Client{Timeout: 10 * time.Second}, out: &syncBuffer{}}
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
		Clients []Client         `json:"clients"`
		Users   []User           `json:"users"`
		TTL     map[string]int64 `json:"ttl"`
	}{Clients: o.Clients, Users: o.Users, TTL: map[string]int64{}}
	cfg.Listen.Host, cfg.Listen.Port = "127.0.0.1", port
	cfg.Issuer = fmt.Sprintf("http://127.0.0.1:%d", port)
	if o.CertFile != "" {
		cfg.Issuer = fmt.Sprintf("https://localhost:%d", port)
		cfg.TLS = &tlsFiles{Cert: o.CertFile, Key: o.KeyFile}
		peer.Client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: o.RootCAs}}
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
	peer.cmd = exec.Command("node", filepath.Join(peersDir(), "oidc", "provider.mjs"), "--modules", modules, "--config", file)
	peer.cmd.Stdout, peer.cmd.Stderr = peer.out, peer.out
	if err := peer.cmd.Start(); err != nil {
		t.Fatalf("starting oidc-provider: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = peer.cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = peer.cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("oidc-provider output:\n%s", peer.out.String())
		}
	})

	discovery := peer.Issuer + "/.well-known/openid-configuration"
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := peer.Client.Get(discovery)
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&peer.Discovery)
			resp.Body.Close()
			if err == nil && resp.StatusCode == http.StatusOK {
				return peer
			}
		}
		select {
		case <-exited:
			t.Fatalf("oidc-provider exited before serving %s (last error: %v):\n%s", discovery, err, peer.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("oidc-provider did not serve %s in time (last error: %v)", discovery, err)
		}
		time.Sleep(50 * time.Millisecond) // polling a process we cannot subscribe to
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
