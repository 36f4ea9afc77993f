// Package validation reproduces the semantic checks Istio applies to the config kinds Gatehouse
// serves (Istio's pkg/config/validation and the CRD-level constraints the Kubernetes API server
// enforces), so that what Istio rejects is rejected here, with the same reason, and what Istio only
// warns about is a warning here.
//
// It sees one resource at a time and knows nothing of files or of other resources: checks across
// resources belong to the policy package's analysis.
package validation
