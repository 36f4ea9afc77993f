package sds

import (
	"bytes"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// StoreOptions configure a Store; the zero value is usable.
type StoreOptions struct {
	Logger *slog.Logger
	// Registerer gets the credential metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// Now is the clock for validity checks (tests fake it); nil is time.Now.
	Now func() time.Time
}

// Store holds credentials by name, fed by sources (config-dir Secrets, files, later Kubernetes
// and the CA). Each source's items replace only that source's previous items. A source's data is
// parsed on arrival: an invalid item is rejected with a precise error and the last good credential
// of that name keeps serving. The Store does not care where a credential came from.
type Store struct {
	log     *slog.Logger
	now     func() time.Time
	metrics *storeMetrics

	mu      sync.Mutex
	sources map[string]map[string]map[string][]byte // source -> name -> raw data
	raw     map[string]map[string][]byte            // the merged raw view last parsed
	creds   map[string]*Credential                  // name -> last good credential
	errs    map[string]error                        // name -> why its current data is rejected
	version uint64
	watch   chan struct{} // closed and replaced on every change
	// dataWatch is closed and replaced whenever any Secret's data changes, a credential or not:
	// consumers of SecretValue and SecretData (an OIDC client secret, session keys) re-read then.
	dataWatch chan struct{}
}

// NewStore returns an empty store.
func NewStore(opts StoreOptions) *Store {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Store{
		log: opts.Logger.With("component", "sds"), now: opts.Now,
		sources:   map[string]map[string]map[string][]byte{},
		raw:       map[string]map[string][]byte{},
		creds:     map[string]*Credential{},
		errs:      map[string]error{},
		watch:     make(chan struct{}),
		dataWatch: make(chan struct{}),
	}
	s.metrics = newStoreMetrics(opts.Registerer, s)
	return s
}

// ReplaceSource replaces everything a source supplied with items keyed by credential name
// ("namespace/name" for Secrets, "file-cert:<cert>~<key>" or "file-root:<ca>" for files), each
// holding Secret-style data (tls.crt, tls.key, ca.crt, ca.crl or cert, key, cacert, crl).
// Sources merge in name order and the first source to supply a name keeps it, so the result does
// not depend on update timing.
func (s *Store) ReplaceSource(source string, items map[string]map[string][]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if prev, ok := s.sources[source]; ok && maps.EqualFunc(prev, items, sameData) {
		return
	}
	s.sources[source] = items
	merged := map[string]map[string][]byte{}
	for _, src := range slices.Sorted(maps.Keys(s.sources)) {
		for name, data := range s.sources[src] {
			if _, taken := merged[name]; !taken {
				merged[name] = data
			}
		}
	}
	changed := false
	for name, data := range merged {
		if prev, ok := s.raw[name]; ok && sameData(prev, data) {
			continue
		}
		changed = s.ingest(name, data) || changed
	}
	for name := range s.raw {
		if _, ok := merged[name]; !ok {
			delete(s.errs, name)
			if _, had := s.creds[name]; had {
				delete(s.creds, name)
				s.log.Info("credential removed", "name", name)
				changed = true
			}
		}
	}
	if !maps.EqualFunc(s.raw, merged, sameData) {
		close(s.dataWatch)
		s.dataWatch = make(chan struct{})
	}
	s.raw = merged
	if changed {
		s.version++
		close(s.watch)
		s.watch = make(chan struct{})
	}
}

// ingest parses one item; it reports whether the credential in force changed. Called with mu held.
func (s *Store) ingest(name string, data map[string][]byte) bool {
	if _, had := s.creds[name]; !had && !holdsTLS(data) {
		// An OIDC client secret, session keys, …: kept for its data (SecretValue, SecretData),
		// neither a credential nor a rejected one. A credential edited into this shape is still
		// rejected below, loudly, and its last good version keeps serving.
		delete(s.errs, name)
		s.log.Debug("secret holds no TLS credential; kept for its data", "name", name)
		return false
	}
	c, warnings, err := ParseSecret(data, s.now())
	if err != nil {
		s.errs[name] = err
		s.metrics.rejected.WithLabelValues(name).Inc()
		if _, ok := s.creds[name]; ok {
			s.log.Error("credential rejected; the last good one keeps serving", "name", name, "error", err)
		} else {
			s.log.Error("credential rejected", "name", name, "error", err)
		}
		return false
	}
	delete(s.errs, name)
	for _, w := range warnings {
		s.log.Warn("credential loaded with a problem", "name", name, "problem", w)
	}
	c.Name, c.Version = name, s.version+1
	prev, rotated := s.creds[name]
	s.creds[name] = c
	if rotated {
		s.metrics.rotations.WithLabelValues(name).Inc()
		s.log.Info("credential rotated", "name", name, "serial", c.Serial(), "previous", prev.Serial(), "notAfter", c.NotAfter())
	} else {
		s.log.Info("credential loaded", "name", name, "serial", c.Serial(), "notAfter", c.NotAfter())
	}
	return true
}

// holdsTLS reports whether a Secret has any key of either Istio TLS layout (a certificate, a
// private key or a CA bundle).
func holdsTLS(data map[string][]byte) bool {
	for _, keys := range [][]string{certKeys, keyKeys, rootsKeys} {
		for _, k := range keys {
			if _, ok := data[k]; ok {
				return true
			}
		}
	}
	return false
}

func sameData(a, b map[string][]byte) bool {
	return maps.EqualFunc(a, b, func(x, y []byte) bool { return string(x) == string(y) })
}

// Get returns the credential in force under a Store name.
func (s *Store) Get(name string) (*Credential, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.creds[name]
	return c, ok
}

// Rejected returns why a name's current data was rejected, nil when it was not.
func (s *Store) Rejected(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.errs[name]
}

// Names lists the credentials in force, sorted.
func (s *Store) Names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.creds))
}

// Credentials returns the credentials in force, sorted by name.
func (s *Store) Credentials() []*Credential {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Credential, 0, len(s.creds))
	for _, n := range slices.Sorted(maps.Keys(s.creds)) {
		out = append(out, s.creds[n])
	}
	return out
}

// Version returns the store version, which increases with every change to the credentials in
// force, and a channel that is closed at the next change.
func (s *Store) Version() (uint64, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.version, s.watch
}

// DataChanged returns a channel that is closed at the next change to any Secret's data, whether
// or not it holds a credential: Version does not move for a Secret that is not one.
func (s *Store) DataChanged() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dataWatch
}

// Istio's SDS resource names.
const (
	KubernetesPrefix = "kubernetes://"
	FileCertPrefix   = "file-cert:"
	FileRootPrefix   = "file-root:"
	CACertSuffix     = "-cacert"
	// WorkloadCertResource and RootCAResource are the workload's own mesh identity (certificate
	// chain and key) and the mesh trust bundle, as istio-agent serves them to its Envoy. They are
	// their own Store names in every namespace.
	WorkloadCertResource = "default"
	RootCAResource       = "ROOTCA"
)

// StoreName maps an SDS resource name, as a proxy in namespace ns asks for it, or a Gateway
// credentialName, to the Store name that holds it: "kubernetes://x" and "x" are "ns/x"; file
// resource names are their own Store names; "default" and "ROOTCA" are the workload identity and
// trust bundle, whatever the namespace.
//
// So a Secret literally named "default" (or "ROOTCA") is unreachable as the bare name: it is
// "kubernetes://default", as in Istio, whose SDS always means the workload certificate by
// "default". Istio turns a credentialName into a resource name by prefixing "kubernetes://"
// (credentialName "default" is the Secret); callers holding a credentialName do the same.
func StoreName(ns, resource string) string {
	if resource == WorkloadCertResource || resource == RootCAResource {
		return resource
	}
	if strings.HasPrefix(resource, FileCertPrefix) || strings.HasPrefix(resource, FileRootPrefix) {
		return resource
	}
	return ns + "/" + strings.TrimPrefix(resource, KubernetesPrefix)
}

// Resolve returns the credential an SDS resource name means for a proxy in namespace ns, with
// Istio's rule for "<name>-cacert": the Secret of that name if it exists, else the CA (ca.crt or
// cacert) of Secret <name>, as a trust-only credential.
func (s *Store) Resolve(ns, resource string) (*Credential, bool) {
	name := StoreName(ns, resource)
	if c, ok := s.Get(name); ok {
		return c, true
	}
	base, isCA := strings.CutSuffix(name, CACertSuffix)
	if !isCA || strings.HasPrefix(name, FileCertPrefix) || strings.HasPrefix(name, FileRootPrefix) {
		return nil, false
	}
	c, ok := s.Get(base)
	if !ok || c.Roots == nil {
		return nil, false
	}
	return &Credential{Name: name, Version: c.Version, Roots: c.Roots, RootCerts: c.RootCerts, RootsPEM: c.RootsPEM, CRL: c.CRL, CRLPEM: c.CRLPEM}, true
}

// SecretData returns a copy of all of a Secret's data, for consumers whose layout is "every key
// counts" (the OIDC login's session encryption keys). The caller must never log or print it.
func (s *Store) SecretData(namespace, name string) (map[string][]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	data, ok := s.raw[namespace+"/"+name]
	if !ok {
		return nil, false
	}
	out := make(map[string][]byte, len(data))
	for k, v := range data {
		out[k] = bytes.Clone(v)
	}
	return out, true
}

// SecretValue returns one key of a Secret's data as its source supplied it, whether or not the
// Secret is a usable TLS credential: a Secret holding only an OIDC client secret is rejected as a
// credential but its data is kept here. The caller must never log or print the value.
func (s *Store) SecretValue(namespace, name, key string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.raw[namespace+"/"+name][key]
	return bytes.Clone(v), ok
}
