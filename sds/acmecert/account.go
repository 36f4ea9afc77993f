package acmecert

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// newClient returns an ACME client for is with its account registered: the account key comes
// from the Cache (one per directory, made on first use), so restarts and replicas share one
// account instead of registering a new one each time.
func (m *Manager) newClient(ctx context.Context, is *Issuer) (*acme.Client, error) {
	hc, err := httpClient(is)
	if err != nil {
		return nil, err
	}
	key, err := m.accountKey(ctx, is.Spec.DirectoryURL)
	if err != nil {
		return nil, fmt.Errorf("account key: %w", err)
	}
	client := &acme.Client{
		Key:          key,
		DirectoryURL: is.Spec.DirectoryURL,
		HTTPClient:   hc,
		UserAgent:    "gatehouse",
		RetryBackoff: clientRetryBackoff,
	}
	acct := &acme.Account{}
	if is.Spec.Email != "" {
		acct.Contact = []string{"mailto:" + is.Spec.Email}
	}
	if eab := is.Spec.ExternalAccountBinding; eab != nil {
		acct.ExternalAccountBinding = &acme.ExternalAccountBinding{KID: eab.KeyID, Key: is.EABKey}
	}
	// Terms of service are accepted as autocert.AcceptTOS does: whoever wrote the ACMEIssuer
	// chose the CA.
	if _, err := client.Register(ctx, acct, acme.AcceptTOS); err != nil && !errors.Is(err, acme.ErrAccountAlreadyExists) {
		return nil, fmt.Errorf("register account at %s: %w", is.Spec.DirectoryURL, err)
	}
	return client, nil
}

// httpClient trusts spec.caBundle for the directory's HTTPS when set, else the system roots.
func httpClient(is *Issuer) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if is.Spec.CABundle != "" {
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM([]byte(is.Spec.CABundle)) {
			return nil, fmt.Errorf("acmeissuer %s: spec.caBundle: no PEM certificate", is.Name)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr}, nil
}

// accountKey loads the directory's account key from the Cache or makes it, under the Cache
// lock of the same name, so that replicas starting together end up with one key.
func (m *Manager) accountKey(ctx context.Context, directoryURL string) (crypto.Signer, error) {
	name := accountCacheKey(directoryURL)
	m.accountMu.Lock() // one maker per process; the Cache lock covers other replicas
	defer m.accountMu.Unlock()
	for {
		if key, err := loadKey(ctx, m.cache, name); !errors.Is(err, autocert.ErrCacheMiss) {
			return key, err
		}
		release, ok, err := m.cache.Lock(ctx, name, time.Minute)
		if err != nil {
			return nil, err
		}
		if ok {
			defer release()
			if key, err := loadKey(ctx, m.cache, name); !errors.Is(err, autocert.ErrCacheMiss) {
				return key, err
			}
			key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				return nil, err
			}
			der, err := x509.MarshalPKCS8PrivateKey(key)
			if err != nil {
				return nil, err
			}
			if err := m.cache.Put(ctx, name, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil {
				return nil, err
			}
			return key, nil
		}
		// Another replica is making it: it writes the key within moments.
		if !m.wait(ctx, "", m.pollInterval(), "account key lock") {
			return nil, ctx.Err()
		}
	}
}

func loadKey(ctx context.Context, cache Cache, name string) (crypto.Signer, error) {
	raw, err := cache.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		return nil, fmt.Errorf("cache entry %s: no PEM key", name)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("cache entry %s: %w", name, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("cache entry %s: %T is not a signing key", name, key)
	}
	return signer, nil
}
