package main

import (
	"encoding/base64"
	"fmt"
	"log/slog"
	"strings"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/sds"
	"github.com/gatehouse-dev/gatehouse/sds/acmecert"
)

// acmeIssuers resolves snap's ACMEIssuers for the ACME manager, oldest first. Of several filling
// one credential the oldest is kept, as analysis warns. An issuer whose EAB key cannot be read is
// left out and logged: its certificate is not ordered, and one already issued keeps serving from
// the cache until it expires.
func acmeIssuers(snap *policy.Snapshot, store *sds.Store, log *slog.Logger) []acmecert.Issuer {
	var out []acmecert.Issuer
	taken := map[string]bool{}
	for _, r := range snap.List(policy.KindACMEIssuer) {
		spec, ok := r.Spec.(*policy.ACMEIssuer)
		if !ok || taken[r.Namespace+"/"+spec.CredentialName] {
			continue
		}
		taken[r.Namespace+"/"+spec.CredentialName] = true
		is := acmecert.Issuer{Name: r.NamespacedName(), Namespace: r.Namespace, Spec: *spec}
		if eab := spec.ExternalAccountBinding; eab != nil {
			key, err := eabKey(store, r.Namespace, eab.HMACKey)
			if err != nil {
				log.Error("acme: issuer left out", "issuer", is.Name, "field", "spec.externalAccountBinding.hmacKey", "error", err)
				continue
			}
			is.EABKey = key
		}
		out = append(out, is)
	}
	return out
}

// eabKey reads an EAB HMAC key: base64url as CAs hand it out (RFC 8555 §7.3.4 has the client
// hold the key; CAs print it base64url-encoded), padded or not. Errors never show the value.
func eabKey(store *sds.Store, namespace string, ref policy.SecretKeyRef) ([]byte, error) {
	v, ok := store.SecretValue(namespace, ref.Name, ref.Key)
	if !ok {
		return nil, fmt.Errorf("secret %s/%s has no key %q", namespace, ref.Name, ref.Key)
	}
	key, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(strings.TrimSpace(string(v)), "="))
	if err != nil || len(key) == 0 {
		return nil, fmt.Errorf("secret %s/%s key %q is not a base64url HMAC key", namespace, ref.Name, ref.Key)
	}
	return key, nil
}
