package acmecert

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/acme"
)

// httpChallengePrefix is where RFC 8555 §8.3 puts HTTP-01 answers.
const httpChallengePrefix = "/.well-known/acme-challenge/"

// cacheReadTimeout bounds a Cache read made while answering a validation request.
const cacheReadTimeout = 5 * time.Second

// challenges holds the answers to the challenges this replica's orders have pending. They are
// also Put in the Cache, so a replica whose listener the CA's validation reaches can answer for
// an order another replica started (autocert does the same for HTTP-01 tokens).
type challenges struct {
	cache Cache

	mu    sync.Mutex
	http  map[string]string           // token -> key authorization
	alpn  map[string]*tls.Certificate // host -> RFC 8737 certificate
	hosts map[string]bool             // hosts of the current issuers: nothing else is answered
}

func newChallenges(cache Cache) *challenges {
	return &challenges{cache: cache, http: map[string]string{}, alpn: map[string]*tls.Certificate{}, hosts: map[string]bool{}}
}

func (c *challenges) setHosts(hosts map[string]bool) {
	c.mu.Lock()
	c.hosts = hosts
	c.mu.Unlock()
}

// addHTTP makes token's key authorization available, in memory and in the Cache.
func (c *challenges) addHTTP(ctx context.Context, token, keyAuth string) error {
	c.mu.Lock()
	c.http[token] = keyAuth
	c.mu.Unlock()
	return c.cache.Put(ctx, httpTokenCacheKey(token), []byte(keyAuth))
}

// addTLSALPN makes host's challenge certificate available, in memory and in the Cache.
func (c *challenges) addTLSALPN(ctx context.Context, host string, cert tls.Certificate) error {
	c.mu.Lock()
	c.alpn[host] = &cert
	c.mu.Unlock()
	der, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		return fmt.Errorf("tls-alpn-01 certificate for %s: %w", host, err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	for _, c := range cert.Certificate {
		data = append(data, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c})...)
	}
	return c.cache.Put(ctx, tlsALPNCacheKey(host), data)
}

// removeHTTP and removeTLSALPN forget an answer once its authorization is done. The context is
// a fresh one: clean-up runs also when the order's context was cancelled.
func (c *challenges) removeHTTP(token string) {
	c.mu.Lock()
	delete(c.http, token)
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), cacheReadTimeout)
	defer cancel()
	_ = c.cache.Delete(ctx, httpTokenCacheKey(token))
}

func (c *challenges) removeTLSALPN(host string) {
	c.mu.Lock()
	delete(c.alpn, host)
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), cacheReadTimeout)
	defer cancel()
	_ = c.cache.Delete(ctx, tlsALPNCacheKey(host))
}

// HTTPChallenge answers GET /.well-known/acme-challenge/<token> for a host of a current
// issuer when the token is pending here or in the Cache. It returns false, having written
// nothing, for any other request: the caller goes on routing it.
func (m *Manager) HTTPChallenge(w http.ResponseWriter, r *http.Request) bool {
	token, ok := strings.CutPrefix(r.URL.Path, httpChallengePrefix)
	if !ok || r.Method != http.MethodGet || !validToken(token) {
		return false
	}
	answer, ok := m.challenges.httpAnswer(r.Context(), hostOnly(r.Host), token)
	if !ok {
		return false
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = io.WriteString(w, answer)
	return true
}

func (c *challenges) httpAnswer(ctx context.Context, host, token string) (string, bool) {
	c.mu.Lock()
	current := c.hosts[host]
	answer, ok := c.http[token]
	c.mu.Unlock()
	if !current {
		return "", false
	}
	if ok {
		return answer, true
	}
	ctx, cancel := context.WithTimeout(ctx, cacheReadTimeout)
	defer cancel()
	raw, err := c.cache.Get(ctx, httpTokenCacheKey(token))
	if err != nil {
		return "", false
	}
	return string(raw), true
}

// TLSALPNCertificate returns the RFC 8737 challenge certificate for a ClientHello that offers
// "acme-tls/1" for a host of a current issuer whose challenge is pending here or in the Cache;
// false otherwise, and the caller serves the handshake as usual.
func (m *Manager) TLSALPNCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, bool) {
	if !slices.Contains(hello.SupportedProtos, acme.ALPNProto) {
		return nil, false
	}
	ctx := hello.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	return m.challenges.tlsALPNCert(ctx, strings.ToLower(strings.TrimSuffix(hello.ServerName, ".")))
}

func (c *challenges) tlsALPNCert(ctx context.Context, host string) (*tls.Certificate, bool) {
	c.mu.Lock()
	current := c.hosts[host]
	cert, ok := c.alpn[host]
	c.mu.Unlock()
	if !current {
		return nil, false
	}
	if ok {
		return cert, true
	}
	ctx, cancel := context.WithTimeout(ctx, cacheReadTimeout)
	defer cancel()
	raw, err := c.cache.Get(ctx, tlsALPNCacheKey(host))
	if err != nil {
		return nil, false
	}
	b, err := parseKeyAndChain(raw)
	if err != nil {
		return nil, false
	}
	pair, err := tls.X509KeyPair(b.chainPEM, b.keyPEM)
	if err != nil {
		return nil, false
	}
	return &pair, true
}

// hostOnly strips the port from a Host header and lower-cases it.
func hostOnly(hostport string) string {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	return strings.ToLower(strings.TrimSuffix(host, "."))
}

// errNoChallenge means the CA offered none of the challenge types the issuer allows.
var errNoChallenge = errors.New("the CA offers none of the allowed challenges")
