package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/sds"
)

// TestACMEIssuers: EAB keys are read base64url, padded or not; an issuer whose key is missing
// or malformed is left out and logged without the value; of two issuers filling one
// credential the older is kept.
func TestACMEIssuers(t *testing.T) {
	t.Parallel()
	issuer := func(name, credential, eab string) string {
		doc := "apiVersion: gatehouse.dev/v1alpha1\nkind: ACMEIssuer\nmetadata: {name: " + name + ", namespace: istio-system}\nspec:\n" +
			"  directoryURL: https://acme.example.test/dir\n  hosts: [" + name + ".example.test]\n  credentialName: " + credential + "\n"
		if eab != "" {
			doc += "  externalAccountBinding: {keyID: kid, hmacKey: {name: eab, key: " + eab + "}}\n"
		}
		return doc
	}
	snap, ps := policy.ParseSnapshot(map[string][]byte{"a.yaml": []byte(strings.Join([]string{
		issuer("plain", "plain-cert", ""),
		issuer("padded", "padded-cert", "padded"),
		issuer("raw", "raw-cert", "raw"),
		issuer("bad", "bad-cert", "bad"),
		issuer("missing", "missing-cert", "missing"),
		issuer("zlater", "plain-cert", ""),
	}, "---\n"))})
	if snap == nil {
		t.Fatalf("config does not load: %v", ps)
	}
	store := sds.NewStore(sds.StoreOptions{})
	store.ReplaceSource("test", map[string]map[string][]byte{"istio-system/eab": {
		"padded": []byte("c2VjcmV0LWtleQ==\n"), "raw": []byte("c2VjcmV0LWtleQ"), "bad": []byte("not base64url!"),
	}})
	var logs bytes.Buffer
	got := acmeIssuers(snap, store, slog.New(slog.NewTextHandler(&logs, nil)))
	var names []string
	for _, is := range got {
		names = append(names, is.Name)
		if is.Spec.ExternalAccountBinding != nil && string(is.EABKey) != "secret-key" {
			t.Errorf("%s: EAB key %q, want secret-key", is.Name, is.EABKey)
		}
	}
	if want := "istio-system/padded istio-system/plain istio-system/raw"; strings.Join(names, " ") != want {
		t.Errorf("issuers %v, want %s (bad and missing keys left out, the newer of two on plain-cert too)", names, want)
	}
	if out := logs.String(); !strings.Contains(out, "istio-system/bad") || !strings.Contains(out, "istio-system/missing") || strings.Contains(out, "not base64url") {
		t.Errorf("log %q: want both left-out issuers named and no key value", out)
	}
}
