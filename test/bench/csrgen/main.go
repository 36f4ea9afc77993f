// Command csrgen writes the certificate signing requests test/bench/ca.sh sends to both CAs:
// N ECDSA P-256 CSRs, each for its own workload key and identity, in the two request shapes.
//
//	csrgen -n 64 -ghz ghz.json -cfssl cfssl.json
//
// -ghz gets a JSON array of IstioCertificateRequest messages ({"csr": PEM, "validity_duration":
// 86400}) that ghz's --data-file sends round-robin; -cfssl gets the first CSR as the body of
// cfssl's /api/v1/cfssl/sign ({"certificate_request": PEM}), which a load tool sends as is.
package main

import (
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"os"
)

func main() {
	var (
		n         = flag.Int("n", 64, "how many CSRs, each with a fresh key")
		ghzFile   = flag.String("ghz", "", "file for the ghz --data-file array of IstioCertificateRequests")
		cfsslFile = flag.String("cfssl", "", "file for one cfssl sign request body")
		validity  = flag.Int64("validity", 86400, "validity_duration asked of the Gatehouse CA, in seconds")
	)
	flag.Parse()
	if err := run(*n, *ghzFile, *cfsslFile, *validity); err != nil {
		fmt.Fprintln(os.Stderr, "csrgen:", err)
		os.Exit(1)
	}
}

func run(n int, ghzFile, cfsslFile string, validity int64) error {
	if n < 1 {
		return fmt.Errorf("-n %d: want at least 1", n)
	}
	if ghzFile == "" && cfsslFile == "" {
		return fmt.Errorf("nothing to write: give -ghz, -cfssl or both")
	}
	csrs, err := newCSRs(rand.Reader, n)
	if err != nil {
		return err
	}
	if ghzFile != "" {
		if err := writeJSON(ghzFile, istioRequests(csrs, validity)); err != nil {
			return err
		}
	}
	if cfsslFile != "" {
		if err := writeJSON(cfsslFile, cfsslRequest{CertificateRequest: csrs[0]}); err != nil {
			return err
		}
	}
	return nil
}

func writeJSON(name string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := os.WriteFile(name, data, 0o600); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}
