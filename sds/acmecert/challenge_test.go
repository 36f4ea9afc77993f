package acmecert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"

	"golang.org/x/crypto/acme"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// challengeManagers returns two Managers sharing a Cache, both with an issuer for
// www.example.com, as two replicas are.
func challengeManagers(t *testing.T) (starter, other *Manager) {
	t.Helper()
	cache := NewDirCache(t.TempDir())
	var ms [2]*Manager
	for i := range ms {
		ms[i] = New(Options{Cache: cache})
		// Tests here drive the responder directly: the issuer's worker has nothing to reach.
		ms[i].challenges.setHosts(map[string]bool{"www.example.com": true})
		t.Cleanup(ms[i].Close)
	}
	return ms[0], ms[1]
}

func TestHTTPChallenge(t *testing.T) {
	t.Parallel()
	starter, other := challengeManagers(t)
	if err := starter.challenges.addHTTP(t.Context(), "tok_1-A", "tok_1-A.thumb"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, method, host, path string
		m                        *Manager
		want                     string // "" = not answered
	}{
		{"pending here", "GET", "www.example.com", "/.well-known/acme-challenge/tok_1-A", starter, "tok_1-A.thumb"},
		{"host with port and case", "GET", "WWW.example.com:8080", "/.well-known/acme-challenge/tok_1-A", starter, "tok_1-A.thumb"},
		{"pending at another replica, via the cache", "GET", "www.example.com", "/.well-known/acme-challenge/tok_1-A", other, "tok_1-A.thumb"},
		{"host of no issuer", "GET", "evil.example.com", "/.well-known/acme-challenge/tok_1-A", starter, ""},
		{"unknown token", "GET", "www.example.com", "/.well-known/acme-challenge/nope", other, ""},
		{"not a token", "GET", "www.example.com", "/.well-known/acme-challenge/../account", other, ""},
		{"other path", "GET", "www.example.com", "/index.html", starter, ""},
		{"POST", "POST", "www.example.com", "/.well-known/acme-challenge/tok_1-A", starter, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(tc.method, "http://x"+tc.path, nil)
			r.Host = tc.host
			w := httptest.NewRecorder()
			answered := tc.m.HTTPChallenge(w, r)
			if answered != (tc.want != "") {
				t.Fatalf("HTTPChallenge = %v, want %v", answered, tc.want != "")
			}
			if !answered {
				if w.Body.Len() != 0 || w.Code != http.StatusOK || len(w.Header()) != 0 {
					t.Errorf("wrote a response while returning false: %d %q", w.Code, w.Body)
				}
				return
			}
			if got := w.Body.String(); got != tc.want {
				t.Errorf("answer = %q, want %q", got, tc.want)
			}
		})
	}

}

func TestHTTPChallengeRemoved(t *testing.T) {
	t.Parallel()
	starter, other := challengeManagers(t)
	if err := starter.challenges.addHTTP(t.Context(), "tok_1-A", "tok_1-A.thumb"); err != nil {
		t.Fatal(err)
	}
	starter.challenges.removeHTTP("tok_1-A")
	r := httptest.NewRequest("GET", "http://www.example.com/.well-known/acme-challenge/tok_1-A", nil)
	for _, m := range []*Manager{starter, other} {
		if m.HTTPChallenge(httptest.NewRecorder(), r) {
			t.Error("a removed token is still answered")
		}
	}
}

func TestTLSALPNCertificate(t *testing.T) {
	t.Parallel()
	starter, other := challengeManagers(t)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	client := &acme.Client{Key: key}
	cert, err := client.TLSALPN01ChallengeCert("tok", "www.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if err := starter.challenges.addTLSALPN(t.Context(), "www.example.com", cert); err != nil {
		t.Fatal(err)
	}
	alpn := []string{"h2", acme.ALPNProto}
	for _, tc := range []struct {
		name   string
		m      *Manager
		hello  tls.ClientHelloInfo
		answer bool
	}{
		{"pending here", starter, tls.ClientHelloInfo{ServerName: "www.example.com", SupportedProtos: alpn}, true},
		{"via the cache", other, tls.ClientHelloInfo{ServerName: "www.example.com", SupportedProtos: alpn}, true},
		{"no acme-tls/1", starter, tls.ClientHelloInfo{ServerName: "www.example.com", SupportedProtos: []string{"h2"}}, false},
		{"host of no issuer", starter, tls.ClientHelloInfo{ServerName: "evil.example.com", SupportedProtos: alpn}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := tc.m.TLSALPNCertificate(&tc.hello)
			if ok != tc.answer {
				t.Fatalf("TLSALPNCertificate ok = %v, want %v", ok, tc.answer)
			}
			if ok && string(got.Certificate[0]) != string(cert.Certificate[0]) {
				t.Error("answered with a different certificate")
			}
		})
	}
}

func TestTLSALPNCertificateRemoved(t *testing.T) {
	t.Parallel()
	starter, other := challengeManagers(t)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := (&acme.Client{Key: key}).TLSALPN01ChallengeCert("tok", "www.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if err := starter.challenges.addTLSALPN(t.Context(), "www.example.com", cert); err != nil {
		t.Fatal(err)
	}
	starter.challenges.removeTLSALPN("www.example.com")
	hello := &tls.ClientHelloInfo{ServerName: "www.example.com", SupportedProtos: []string{acme.ALPNProto}}
	for _, m := range []*Manager{starter, other} {
		if _, ok := m.TLSALPNCertificate(hello); ok {
			t.Error("a removed challenge is still answered")
		}
	}
}

func TestPickChallenge(t *testing.T) {
	t.Parallel()
	offered := []*acme.Challenge{{Type: "dns-01"}, {Type: "http-01"}, {Type: "tls-alpn-01"}}
	for _, tc := range []struct {
		allowed []string
		want    string
	}{
		{policy.DefaultACMEChallenges, "tls-alpn-01"},
		{[]string{policy.ACMEChallengeHTTP01, policy.ACMEChallengeTLSALPN01}, "http-01"},
		{[]string{policy.ACMEChallengeHTTP01}, "http-01"},
	} {
		if got := pickChallenge(offered, tc.allowed); got == nil || got.Type != tc.want {
			t.Errorf("pickChallenge(%v) = %v, want %s", tc.allowed, got, tc.want)
		}
	}
	if got := pickChallenge([]*acme.Challenge{{Type: "dns-01"}}, policy.DefaultACMEChallenges); got != nil {
		t.Errorf("picked %s though only dns-01 is offered", got.Type)
	}
}
