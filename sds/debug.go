package sds

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"maps"
	"slices"
	"time"
)

// DebugCertsJSON renders the Store for the loopback admin endpoint /debug/certs: for every
// credential name, what certificate is in force (serial, names, validity, fingerprint), whether
// it carries a key, roots and a CRL, and why its latest data was rejected, if it was. It never
// includes key material or PEM.
func DebugCertsJSON(store *Store) ([]byte, error) {
	version, creds, errs, now := store.debugView()
	names := map[string]bool{}
	for n := range creds {
		names[n] = true
	}
	for n := range errs {
		names[n] = true
	}
	out := debugCerts{Version: version, Credentials: []debugCredential{}}
	for _, n := range slices.Sorted(maps.Keys(names)) {
		d := debugCredential{Name: n}
		if c, ok := creds[n]; ok {
			d.fill(c, now)
		}
		if err := errs[n]; err != nil {
			d.Rejected = err.Error()
		}
		out.Credentials = append(out.Credentials, d)
	}
	return json.MarshalIndent(out, "", "  ")
}

type debugCerts struct {
	// Version is the Store version: it changes with every change to the credentials in force.
	Version     uint64            `json:"version"`
	Credentials []debugCredential `json:"credentials"`
}

// debugCredential describes one Store name. The top-level certificate fields are the serving
// leaf, or for a trust-only credential its first root (what Credential.NotAfter and
// Fingerprint describe). A name whose data was rejected before any good version has only Name
// and Rejected.
type debugCredential struct {
	Name string `json:"name"`
	// Version is the Store version at which the credential in force last changed.
	Version uint64 `json:"version,omitempty"`
	debugCert
	HasKey      bool        `json:"hasKey"`
	ChainLength int         `json:"chainLength,omitempty"`
	HasRoots    bool        `json:"hasRoots"`
	Roots       []debugCert `json:"roots,omitempty"`
	HasCRL      bool        `json:"hasCRL"`
	CRL         *debugCRL   `json:"crl,omitempty"`
	// Rejected is why the latest data under this name was refused; the credential described
	// above (if any) is the last good one and keeps serving.
	Rejected string `json:"rejected,omitempty"`
}

type debugCert struct {
	Serial      string     `json:"serial,omitempty"`
	Subject     string     `json:"subject,omitempty"`
	Issuer      string     `json:"issuer,omitempty"`
	DNSNames    []string   `json:"dnsNames,omitempty"`
	URIs        []string   `json:"uris,omitempty"`
	IPAddresses []string   `json:"ipAddresses,omitempty"`
	NotBefore   *time.Time `json:"notBefore,omitempty"`
	NotAfter    *time.Time `json:"notAfter,omitempty"`
	// SecondsLeft is negative once the certificate has expired.
	SecondsLeft *int64 `json:"secondsLeft,omitempty"`
	SHA256      string `json:"sha256,omitempty"`
}

type debugCRL struct {
	Issuer     string     `json:"issuer"`
	Number     string     `json:"number,omitempty"`
	ThisUpdate time.Time  `json:"thisUpdate"`
	NextUpdate *time.Time `json:"nextUpdate,omitempty"`
	Revoked    int        `json:"revoked"`
}

func (d *debugCredential) fill(c *Credential, now time.Time) {
	d.Version = c.Version
	if c.Certificate != nil {
		d.debugCert = describeCert(c.Certificate.Leaf, now)
		d.HasKey = c.Certificate.PrivateKey != nil
		d.ChainLength = len(c.Certificate.Certificate)
	} else if len(c.RootCerts) > 0 {
		d.debugCert = describeCert(c.RootCerts[0], now)
	}
	d.HasRoots = c.Roots != nil
	for _, r := range c.RootCerts {
		d.Roots = append(d.Roots, describeCert(r, now))
	}
	d.HasCRL = c.CRL != nil
	if c.CRL != nil {
		crl := &debugCRL{Issuer: c.CRL.Issuer.String(), ThisUpdate: c.CRL.ThisUpdate.UTC(), Revoked: len(c.CRL.RevokedCertificateEntries)}
		if c.CRL.Number != nil {
			crl.Number = c.CRL.Number.Text(16)
		}
		if !c.CRL.NextUpdate.IsZero() {
			next := c.CRL.NextUpdate.UTC()
			crl.NextUpdate = &next
		}
		d.CRL = crl
	}
}

func describeCert(c *x509.Certificate, now time.Time) debugCert {
	notBefore, notAfter := c.NotBefore.UTC(), c.NotAfter.UTC()
	left := int64(c.NotAfter.Sub(now) / time.Second)
	sum := sha256.Sum256(c.Raw)
	d := debugCert{
		Serial:      c.SerialNumber.Text(16),
		Subject:     c.Subject.String(),
		Issuer:      c.Issuer.String(),
		DNSNames:    c.DNSNames,
		NotBefore:   &notBefore,
		NotAfter:    &notAfter,
		SecondsLeft: &left,
		SHA256:      hex.EncodeToString(sum[:]),
	}
	for _, u := range c.URIs {
		d.URIs = append(d.URIs, u.String())
	}
	for _, ip := range c.IPAddresses {
		d.IPAddresses = append(d.IPAddresses, ip.String())
	}
	return d
}

// debugView is one consistent copy of what /debug/certs shows. It lives beside its only user
// rather than in store.go.
func (s *Store) debugView() (version uint64, creds map[string]*Credential, errs map[string]error, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.version, maps.Clone(s.creds), maps.Clone(s.errs), s.now()
}
