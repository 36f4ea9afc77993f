// Command tlsload measures full TLS 1.3 handshakes per second against one server, for
// test/bench/tls.sh and mesh.sh: N workers each dial, complete a handshake without any session
// cache (so every handshake is a full one), close the connection and dial again.
//
//	tlsload -addr 127.0.0.1:8443 -servername localhost -cacert cert.pem -c 32 -d 8s -warmup 2s
//
// Against a mesh sidecar it presents a client certificate (-cert, -key), offers Istio's ALPN
// (-alpn) and checks the server's SPIFFE ID instead of a DNS name (-spiffe). With -get PATH each
// connection also carries one HTTP/1.1 request that must be answered 200 before it counts: in
// TLS 1.3 the client finishes its handshake before the server has checked the client's
// certificate, so only an answer proves the server took it.
//
// It prints one line, "handshakes/s p50-ms p99-ms errors handshakes", where the latency of one
// handshake runs from the TCP dial to the client's Finished (with -get, to the end of the
// response). Failures are counted, and the first one is described on stderr.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"
)

// options are the flags: the target and how to talk to it.
type options struct {
	addr, serverName, caFile  string
	certFile, keyFile, spiffe string
	alpn, get                 string
	workers                   int
	duration, warmup, timeout time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.addr, "addr", "", "server address, host:port")
	flag.StringVar(&o.serverName, "servername", "localhost", "SNI sent, and the name the certificate must hold (without -spiffe)")
	flag.StringVar(&o.caFile, "cacert", "", "PEM file of the roots that verify the server's certificate")
	flag.StringVar(&o.certFile, "cert", "", "PEM client certificate chain to present (mTLS)")
	flag.StringVar(&o.keyFile, "key", "", "PEM private key of -cert")
	flag.StringVar(&o.spiffe, "spiffe", "", "SPIFFE ID the server's certificate must hold as its URI SAN, instead of -servername")
	flag.StringVar(&o.alpn, "alpn", "", "comma-separated ALPN protocols to offer")
	flag.StringVar(&o.get, "get", "", "path of one HTTP/1.1 GET per connection, which must be answered 200")
	flag.IntVar(&o.workers, "c", 32, "concurrent workers")
	flag.DurationVar(&o.duration, "d", 8*time.Second, "measured duration")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured run before the measured one")
	flag.DurationVar(&o.timeout, "timeout", 5*time.Second, "limit on one dial and handshake (and request)")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "tlsload:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	if o.addr == "" || o.caFile == "" {
		return errors.New("-addr and -cacert are required")
	}
	if o.workers < 1 || o.duration <= 0 || o.warmup < 0 || o.timeout <= 0 {
		return errors.New("-c, -d and -timeout must be positive, -warmup not negative")
	}
	if o.get != "" && !strings.HasPrefix(o.get, "/") {
		return fmt.Errorf("-get %q: must be a path starting with /", o.get)
	}
	cfg, err := clientConfig(o)
	if err != nil {
		return err
	}
	l := loader{addr: o.addr, cfg: cfg, workers: o.workers, timeout: o.timeout}
	if o.get != "" {
		l.request = []byte("GET " + o.get + " HTTP/1.1\r\nHost: " + o.serverName + "\r\nConnection: close\r\n\r\n")
	}
	if o.warmup > 0 {
		l.run(context.Background(), o.warmup)
	}
	res := l.run(context.Background(), o.duration)
	if res.firstErr != nil {
		fmt.Fprintf(os.Stderr, "tlsload: %d of %d handshakes failed; the first: %v\n",
			res.errors, res.errors+len(res.latencies), res.firstErr)
	}
	if len(res.latencies) == 0 {
		return fmt.Errorf("no handshake with %s completed", o.addr)
	}
	fmt.Printf("%.0f %.2f %.2f %d %d\n", res.rate(), millis(percentile(res.latencies, 50)),
		millis(percentile(res.latencies, 99)), res.errors, len(res.latencies))
	return nil
}

// clientConfig pins what makes the comparison fair: TLS 1.3 only, an X25519 key share (a curve
// both Go and OpenSSL 3.0 servers offer, unlike the post-quantum hybrids Go would prefer), and
// no session cache, so no handshake is resumed.
func clientConfig(o options) (*tls.Config, error) {
	pem, err := os.ReadFile(o.caFile)
	if err != nil {
		return nil, fmt.Errorf("-cacert: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("-cacert %s: no PEM certificate", o.caFile)
	}
	cfg := &tls.Config{
		ServerName:       o.serverName,
		RootCAs:          roots,
		MinVersion:       tls.VersionTLS13,
		MaxVersion:       tls.VersionTLS13,
		CurvePreferences: []tls.CurveID{tls.X25519},
	}
	if o.alpn != "" {
		cfg.NextProtos = strings.Split(o.alpn, ",")
	}
	if (o.certFile == "") != (o.keyFile == "") {
		return nil, errors.New("-cert and -key go together")
	}
	if o.certFile != "" {
		cert, err := tls.LoadX509KeyPair(o.certFile, o.keyFile)
		if err != nil {
			return nil, fmt.Errorf("-cert/-key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if o.spiffe != "" {
		id, err := url.Parse(o.spiffe)
		if err != nil || id.Scheme != "spiffe" {
			return nil, fmt.Errorf("-spiffe %q: not a spiffe:// URI", o.spiffe)
		}
		// Mesh certificates name no host, so the chain is verified here, with the SPIFFE ID in
		// place of the name: what Istio calls secure naming.
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = func(cs tls.ConnectionState) error { return verifySPIFFE(cs, roots, o.spiffe) }
	}
	return cfg, nil
}

// verifySPIFFE checks the server's chain against roots and that its leaf holds the SPIFFE ID want.
func verifySPIFFE(cs tls.ConnectionState, roots *x509.CertPool, want string) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("the server sent no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	leaf := cs.PeerCertificates[0]
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return err
	}
	for _, u := range leaf.URIs {
		if u.String() == want {
			return nil
		}
	}
	return fmt.Errorf("the server's certificate names %v, not %s", leaf.URIs, want)
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
