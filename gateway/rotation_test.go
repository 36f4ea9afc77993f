package gateway

import (
	"context"
	"crypto/tls"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestRotationUnderLoad replaces a Secret while clients send requests over keep-alive
// connections and over new connections: no request fails, and new handshakes get the new
// certificate without a recompile.
func TestRotationUnderLoad(t *testing.T) {
	t.Parallel()
	web := backend(t, "web")
	ca := newAuthority(t, "server CA")
	first := ca.issue(t, leafSpec{cn: "web", dns: []string{"web.example.com"}})
	second := ca.issue(t, leafSpec{cn: "web", dns: []string{"web.example.com"}})
	s := newSecrets()
	s.put("web-cert", "tls.crt", first.certPEM, "tls.key", first.keyPEM)
	g := startTLSGateway(t, s, snapshot(t, 1,
		tlsGatewayDoc(`  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [web.example.com]
    tls: {mode: SIMPLE, credentialName: web-cert}
`), staticEntry("web", "web.internal", port(t, web)), routeAll("web", "web.internal")))
	addr := g.addr(t, 443)
	version := g.Table().Version

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var failures, requests atomic.Int64
	var lastErr atomic.Value
	var newSerialSeen atomic.Bool
	wantSerial := second.cert.SerialNumber.String()
	var wg sync.WaitGroup
	loop := func(client *http.Client, fresh bool) {
		defer wg.Done()
		for ctx.Err() == nil {
			res, raw, err := fetch(client, "https://web.example.com/")
			requests.Add(1)
			if err != nil || res.code != 200 {
				failures.Add(1)
				lastErr.Store(err)
				continue
			}
			if fresh && raw.TLS.PeerCertificates[0].SerialNumber.String() == wantSerial {
				newSerialSeen.Store(true)
			}
		}
	}
	keepAlive := httpsClient(t, addr, ca.pool(), nil)
	fresh := httpsClient(t, addr, ca.pool(), nil)
	fresh.Transport.(*http.Transport).DisableKeepAlives = true
	fresh.Transport.(*http.Transport).TLSClientConfig.ClientSessionCache = nil
	for range 4 {
		wg.Add(2)
		go loop(keepAlive, false)
		go loop(fresh, true)
	}
	eventually(t, "load before the rotation", func() bool { return requests.Load() > 50 })
	s.put("web-cert", "tls.crt", second.certPEM, "tls.key", second.keyPEM)
	eventually(t, "a new handshake with the new certificate", newSerialSeen.Load)
	before := requests.Load()
	eventually(t, "load after the rotation", func() bool { return requests.Load() > before+50 })
	cancel()
	wg.Wait()
	if n := failures.Load(); n > 0 {
		t.Fatalf("%d of %d requests failed; last: %v", n, requests.Load(), lastErr.Load())
	}
	if g.Table().Version != version {
		t.Error("the rotation recompiled the Table")
	}
	// The keep-alive connections established before the rotation still hold the old
	// certificate, and a handshake now gets the new one.
	cs, _, err := handshake(t, addr, &tls.Config{ServerName: "web.example.com", RootCAs: ca.pool()})
	if err != nil || cs.PeerCertificates[0].SerialNumber.String() != wantSerial {
		t.Fatalf("after the rotation: %v", err)
	}
}

func TestSessionResumption(t *testing.T) {
	t.Parallel()
	g, ca, _, _ := twoHosts(t)
	addr := g.addr(t, 443)
	cache := tls.NewLRUClientSessionCache(8)
	for i, want := range []bool{false, true} {
		cs, status, err := handshake(t, addr, &tls.Config{ServerName: "web.example.com", RootCAs: ca.pool(), ClientSessionCache: cache})
		if err != nil {
			t.Fatalf("handshake %d: %q, %v", i, status, err)
		}
		if cs.DidResume != want {
			t.Errorf("handshake %d resumed = %v, want %v", i, cs.DidResume, want)
		}
	}
	// A ticket from one server does not resume on another. The client skips verification so
	// that it offers the ticket at all (it would not for a name the certificate does not cover).
	other := tls.NewLRUClientSessionCache(8)
	if _, _, err := handshake(t, addr, &tls.Config{ServerName: "web.example.com", InsecureSkipVerify: true, ClientSessionCache: other}); err != nil {
		t.Fatal(err)
	}
	cs, _, err := handshake(t, addr, &tls.Config{ServerName: "api.example.com", InsecureSkipVerify: true, ClientSessionCache: &renamingCache{other, "web.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	if cs.DidResume {
		t.Error("a session of web.example.com resumed on api.example.com")
	}
	if n := testutil.ToFloat64(g.metrics.handshakes.WithLabelValues("true")); n != 1 {
		t.Errorf("resumed handshakes = %v, want 1", n)
	}
}

// renamingCache offers the session of another server name.
type renamingCache struct {
	tls.ClientSessionCache
	from string
}

func (c *renamingCache) Get(string) (*tls.ClientSessionState, bool) {
	return c.ClientSessionCache.Get(c.from)
}
