// Command tlsload measures full TLS 1.3 handshakes per second against one server, for
// test/bench/tls.sh: N workers each dial, complete a handshake without any session cache (so
// every handshake is a full one), close the connection and dial again.
//
//	tlsload -addr 127.0.0.1:8443 -servername localhost -cacert cert.pem -c 32 -d 8s -warmup 2s
//
// It prints one line, "handshakes/s p50-ms p99-ms errors handshakes", where the latency of one
// handshake runs from the TCP dial to the client's Finished. Failures are counted, and the first
// one is described on stderr.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"
)

func main() {
	var (
		addr       = flag.String("addr", "", "server address, host:port")
		serverName = flag.String("servername", "localhost", "SNI sent, and the name the certificate must hold")
		caFile     = flag.String("cacert", "", "PEM file of the roots that verify the server's certificate")
		workers    = flag.Int("c", 32, "concurrent workers")
		duration   = flag.Duration("d", 8*time.Second, "measured duration")
		warmup     = flag.Duration("warmup", 2*time.Second, "unmeasured run before the measured one")
		timeout    = flag.Duration("timeout", 5*time.Second, "limit on one dial and handshake")
	)
	flag.Parse()
	if err := run(*addr, *serverName, *caFile, *workers, *duration, *warmup, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "tlsload:", err)
		os.Exit(1)
	}
}

func run(addr, serverName, caFile string, workers int, duration, warmup, timeout time.Duration) error {
	if addr == "" || caFile == "" {
		return errors.New("-addr and -cacert are required")
	}
	if workers < 1 || duration <= 0 || warmup < 0 || timeout <= 0 {
		return errors.New("-c, -d and -timeout must be positive, -warmup not negative")
	}
	cfg, err := clientConfig(serverName, caFile)
	if err != nil {
		return err
	}
	l := loader{addr: addr, cfg: cfg, workers: workers, timeout: timeout}
	if warmup > 0 {
		l.run(context.Background(), warmup)
	}
	res := l.run(context.Background(), duration)
	if res.firstErr != nil {
		fmt.Fprintf(os.Stderr, "tlsload: %d of %d handshakes failed; the first: %v\n",
			res.errors, res.errors+len(res.latencies), res.firstErr)
	}
	if len(res.latencies) == 0 {
		return fmt.Errorf("no handshake with %s completed", addr)
	}
	fmt.Printf("%.0f %.2f %.2f %d %d\n", res.rate(), millis(percentile(res.latencies, 50)),
		millis(percentile(res.latencies, 99)), res.errors, len(res.latencies))
	return nil
}

// clientConfig pins what makes the comparison fair: TLS 1.3 only, an X25519 key share (a curve
// both Go and OpenSSL 3.0 servers offer, unlike the post-quantum hybrids Go would prefer), and
// no session cache, so no handshake is resumed.
func clientConfig(serverName, caFile string) (*tls.Config, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("-cacert: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("-cacert %s: no PEM certificate", caFile)
	}
	return &tls.Config{
		ServerName:       serverName,
		RootCAs:          roots,
		MinVersion:       tls.VersionTLS13,
		MaxVersion:       tls.VersionTLS13,
		CurvePreferences: []tls.CurveID{tls.X25519},
	}, nil
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
