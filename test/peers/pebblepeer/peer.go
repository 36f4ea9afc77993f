// Package pebblepeer starts Pebble, Let's Encrypt's small ACME test server, with
// pebble-challtestsrv as its DNS, on loopback for the gateway's ACME tests (issue 8). Both are
// built from the Go module proxy by test/peers/install.sh at the release Version pins. It is a
// test helper: the gateway orders certificates from a real ACME server instead of a fake that
// shares our reading of RFC 8555.
package pebblepeer

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/test/peers/loopback"
	"github.com/gatehouse-dev/gatehouse/test/peers/peerdir"
)

// Options configure Start. The zero value is a working Pebble whose challenges go to free ports
// nobody serves: tests set HTTPPort and TLSPort to the gateway's.
type Options struct {
	// HTTPPort and TLSPort are where Pebble's validation authority connects, on the address DNS
	// gives for the name, for http-01 and tls-alpn-01 challenges; 0 picks a free port
	// (Peer.HTTPPort, Peer.TLSPort).
	HTTPPort, TLSPort int
	// CertificateLifetime is how long issued certificates are valid, in whole seconds (rounded
	// up), for renewal tests; 0 keeps Pebble's 90 days. Pebble makes NotAfter one second short of
	// NotBefore plus the lifetime.
	CertificateLifetime time.Duration
	// AuthzReusePercent is how often Pebble hands back an already valid authorization for a
	// name instead of a new challenge. Pebble's own default is 50%, which would make whether a
	// renewal is challenged random; here the default is 0, so every order is challenged.
	AuthzReusePercent int
	// ExternalAccountMACKeys are EAB key ids and their base64url HMAC keys Pebble accepts;
	// RequireExternalAccountBinding makes newAccount fail without one.
	ExternalAccountMACKeys        map[string]string
	RequireExternalAccountBinding bool
	// DomainBlocklist are names Pebble refuses to order for.
	DomainBlocklist []string
	// DefaultIPv4 is what the DNS answers A queries with for names without an AddA record;
	// "" is 127.0.0.1. AAAA queries get no answer, so validation goes to that IPv4 address.
	DefaultIPv4 string
}

// Peer is a running Pebble and its DNS, stopped when the test ends.
type Peer struct {
	// Directory is the ACME directory URL, https on 127.0.0.1.
	Directory string
	// DirectoryCA trusts the certificate Pebble serves the directory (and its management API)
	// with; DirectoryCAPEM and DirectoryCAFile are the same certificate as PEM and a file of it,
	// for clients configured by file.
	DirectoryCA     *x509.CertPool
	DirectoryCAPEM  []byte
	DirectoryCAFile string
	// HTTPPort and TLSPort are the ports Pebble validates challenges on.
	HTTPPort, TLSPort int
	// DNS is the address (127.0.0.1:port, TCP and UDP) of the challtestsrv DNS Pebble resolves
	// names with.
	DNS string

	management    string // host:port of Pebble's management API (roots), never 15000
	dnsManagement string // host:port of challtestsrv's management API (DNS records)
	client        *http.Client
	pebbleLog     string
	dnsLog        string
}

// Installed returns the directory holding pebble and pebble-challtestsrv at Version, as
// install.sh laid it out, or why it cannot be used.
func Installed() (string, error) {
	cache, err := peerdir.Cache()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cache, "pebble-"+Version)
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err != nil {
		return "", fmt.Errorf("pebble %s is not installed in %s: run `make test`, which installs the test peers", Version, dir)
	}
	return dir, nil
}

// SkipIfMissing skips the test when Pebble is not installed; the end-to-end tests fail instead
// (Start does), since `make test` installs it.
func SkipIfMissing(t testing.TB) {
	t.Helper()
	if _, err := Installed(); err != nil {
		t.Skipf("skipping: %v", err)
	}
}

// Start starts pebble-challtestsrv and Pebble on 127.0.0.1 and waits until the DNS and the ACME
// directory answer. Their logs are printed when the test fails.
func Start(t testing.TB, o Options) *Peer {
	t.Helper()
	dir, err := Installed()
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	listen := addr(loopback.FreePort(t))
	p := &Peer{
		Directory:     "https://" + listen + "/dir",
		HTTPPort:      o.HTTPPort,
		TLSPort:       o.TLSPort,
		DNS:           addr(loopback.FreePort(t)),
		management:    addr(loopback.FreePort(t)),
		dnsManagement: addr(loopback.FreePort(t)),
		pebbleLog:     filepath.Join(work, "pebble.log"),
		dnsLog:        filepath.Join(work, "pebble-challtestsrv.log"),
	}
	if p.HTTPPort == 0 {
		p.HTTPPort = loopback.FreePort(t)
	}
	if p.TLSPort == 0 {
		p.TLSPort = loopback.FreePort(t)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("pebble-challtestsrv output:\n%s\npebble output:\n%s", p.ChalltestsrvOutput(), p.Output())
		}
	})

	cert, key, err := writeServingCert(work, p)
	if err != nil {
		t.Fatal(err)
	}
	p.client = &http.Client{Timeout: 10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.DirectoryCA}}}

	defaultIPv4 := o.DefaultIPv4
	if defaultIPv4 == "" {
		defaultIPv4 = "127.0.0.1"
	}
	// challtestsrv's other servers (http-01, https-01, tls-alpn-01 responders, DoH) are off: the
	// gateway answers the challenges. Its management API cannot be turned off, so it gets a free
	// port too.
	dnsExited := startProcess(t, "pebble-challtestsrv", filepath.Join(dir, "pebble-challtestsrv"), p.dnsLog, nil,
		"-dnsserver", p.DNS, "-management", p.dnsManagement,
		"-http01", "", "-https01", "", "-tlsalpn01", "", "-doh", "",
		"-defaultIPv4", defaultIPv4, "-defaultIPv6", "")

	cfgFile := filepath.Join(work, "pebble-config.json")
	if err := writeConfig(cfgFile, o, p, listen, cert, key); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"PEBBLE_VA_NOSLEEP=1", // validate at once, not after Pebble's random 0-15 s
		"PEBBLE_AUTHZREUSE=" + strconv.Itoa(o.AuthzReusePercent),
	}
	pebbleExited := startProcess(t, "pebble", filepath.Join(dir, "pebble"), p.pebbleLog, env,
		"-config", cfgFile, "-dnsserver", p.DNS)

	p.waitReady(t, dnsExited, pebbleExited)
	return p
}

func addr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// writeConfig writes Pebble's JSON config. The single "default" profile carries the lifetime:
// Pebble picks a random profile for orders that name none, so any second profile would make the
// lifetime random.
func writeConfig(file string, o Options, p *Peer, listen, cert, key string) error {
	type profile struct {
		Description    string `json:"description"`
		ValidityPeriod uint64 `json:"validityPeriod"` // seconds; 0 is Pebble's 90 days
	}
	var cfg struct {
		Pebble struct {
			ListenAddress                  string             `json:"listenAddress"`
			ManagementListenAddress        string             `json:"managementListenAddress"`
			Certificate                    string             `json:"certificate"`
			PrivateKey                     string             `json:"privateKey"`
			HTTPPort                       int                `json:"httpPort"`
			TLSPort                        int                `json:"tlsPort"`
			ExternalAccountBindingRequired bool               `json:"externalAccountBindingRequired"`
			ExternalAccountMACKeys         map[string]string  `json:"externalAccountMACKeys,omitempty"`
			DomainBlocklist                []string           `json:"domainBlocklist,omitempty"`
			KeyAlgorithm                   string             `json:"keyAlgorithm"`
			Profiles                       map[string]profile `json:"profiles"`
		} `json:"pebble"`
	}
	c := &cfg.Pebble
	c.ListenAddress, c.ManagementListenAddress = listen, p.management
	c.Certificate, c.PrivateKey = cert, key
	c.HTTPPort, c.TLSPort = p.HTTPPort, p.TLSPort
	c.ExternalAccountBindingRequired, c.ExternalAccountMACKeys = o.RequireExternalAccountBinding, o.ExternalAccountMACKeys
	c.DomainBlocklist = o.DomainBlocklist
	c.KeyAlgorithm = "ecdsa" // Pebble's own root and intermediate keys: quicker to make than RSA
	c.Profiles = map[string]profile{"default": {
		Description:    "gatehouse tests",
		ValidityPeriod: uint64((o.CertificateLifetime + time.Second - 1) / time.Second),
	}}
	raw, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(file, raw, 0o600)
}

// startProcess runs bin until the test ends, with its output in logFile, and returns a channel
// closed when it exits. The output goes to a file, not a pipe, so that what the process wrote
// before answering a request is in the file by the time the answer arrives (Orders relies on it).
func startProcess(t testing.TB, name, bin, logFile string, env []string, args ...string) <-chan struct{} {
	t.Helper()
	out, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		out.Close()
		t.Fatalf("starting %s: %v", name, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		out.Close()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	return exited
}

// waitReady polls until the DNS takes TCP connections (Pebble resolves over TCP) and Pebble
// serves its directory.
func (p *Peer) waitReady(t testing.TB, dnsExited, pebbleExited <-chan struct{}) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var err error
	for {
		err = p.ready()
		if err == nil {
			return
		}
		select {
		case <-dnsExited:
			t.Fatalf("pebble-challtestsrv exited before answering on %s:\n%s", p.DNS, p.ChalltestsrvOutput())
		case <-pebbleExited:
			t.Fatalf("pebble exited before serving %s:\n%s", p.Directory, p.Output())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("pebble did not get ready in time: %v", err)
		}
		time.Sleep(50 * time.Millisecond) // polling processes we cannot subscribe to
	}
}

func (p *Peer) ready() error {
	conn, err := net.DialTimeout("tcp", p.DNS, time.Second)
	if err != nil {
		return fmt.Errorf("dns %s: %w", p.DNS, err)
	}
	conn.Close()
	resp, err := p.client.Get(p.Directory)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", p.Directory, resp.Status)
	}
	return nil
}

// Output is what Pebble logged so far.
func (p *Peer) Output() string { return readLog(p.pebbleLog) }

// ChalltestsrvOutput is what pebble-challtestsrv logged so far.
func (p *Peer) ChalltestsrvOutput() string { return readLog(p.dnsLog) }

func readLog(file string) string {
	raw, err := os.ReadFile(file)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	return string(raw)
}
