package validation

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Istio accepts upper case in host labels (Envoy matches hosts case-insensitively), unlike strict
// RFC 1123, so these patterns do too.
const dnsLabelPattern = `[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?`

var (
	dnsLabelRe = regexp.MustCompile(`^` + dnsLabelPattern + `$`)
	// A wildcard label is "*", or a DNS label optionally led by "*" or "*-" (Istio's "*-foo").
	wildcardLabelRe = regexp.MustCompile(`^(?:\*|(?:\*|\*-)?` + dnsLabelPattern + `)$`)
)

const (
	maxDNSLabelLen  = 63
	maxDomainLength = 255
)

func isDNS1123Label(s string) bool {
	return len(s) <= maxDNSLabelLen && dnsLabelRe.MatchString(s)
}

func isWildcardDNS1123Label(s string) bool {
	return len(s) <= maxDNSLabelLen && wildcardLabelRe.MatchString(s)
}

// validateFQDN reports host unless it is a DNS name Istio accepts: non-empty, at most 255 bytes,
// every label a DNS-1123 label, a numeric-only last label refused (it would read as an IP), and
// one trailing dot allowed ("istio.io.").
func validateFQDN(field string, host string, r *report) {
	if reason := fqdnProblem(host); reason != "" {
		r.errorf(field, "%s", reason)
	}
}

// validateWildcardDomain is validateFQDN that also allows a wildcard in the first label only
// ("*", "*.example.com", "*-api.example.com").
func validateWildcardDomain(field string, host string, r *report) {
	if reason := wildcardDomainProblem(host); reason != "" {
		r.errorf(field, "%s", reason)
	}
}

func domainLengthProblem(host string) string {
	if len(host) > maxDomainLength {
		return fmt.Sprintf("domain name %q too long (max %d)", host, maxDomainLength)
	}
	if host == "" {
		return "empty domain name not allowed"
	}
	return ""
}

func fqdnProblem(host string) string {
	if reason := domainLengthProblem(host); reason != "" {
		return reason
	}
	return dnsLabelsProblem(host, host)
}

func wildcardDomainProblem(host string) string {
	if reason := domainLengthProblem(host); reason != "" {
		return reason
	}
	first, rest, more := strings.Cut(host, ".")
	if !isWildcardDNS1123Label(first) {
		return fmt.Sprintf("domain name %q invalid (label %q invalid)", host, first)
	}
	if more {
		return dnsLabelsProblem(host, rest)
	}
	return ""
}

// dnsLabelsProblem checks the dot-separated labels of part, naming whole in the reason.
func dnsLabelsProblem(whole, part string) string {
	labels := strings.Split(part, ".")
	last := labels[len(labels)-1]
	if _, err := strconv.Atoi(last); err == nil {
		return fmt.Sprintf("domain name %q invalid (top level domain %q cannot be all-numeric)", whole, last)
	}
	for i, label := range labels {
		if i == len(labels)-1 && label == "" {
			break
		}
		if !isDNS1123Label(label) {
			return fmt.Sprintf("domain name %q invalid (label %q invalid)", whole, label)
		}
	}
	return ""
}

// partialWildcardProblem refuses wildcards anywhere but as the whole host or a leading "*." label,
// which is all Gateway and Sidecar host matching supports.
func partialWildcardProblem(host string) string {
	if strings.Contains(host, "*") && host != "*" && !strings.HasPrefix(host, "*.") {
		return fmt.Sprintf("partial wildcard %q not allowed", host)
	}
	return ""
}

// validateGatewayHost checks one entry of a Gateway server's hosts: "[namespace/]dnsName", where
// namespace is "*", "." or a DNS label and dnsName is a wildcard domain or an IP address (gateways
// may be addressed by IP).
func validateGatewayHost(field string, host string, r *report) {
	ns, name, hasNamespace := strings.Cut(host, "/")
	if !hasNamespace {
		name = host
	} else {
		if ns == "" || name == "" {
			r.errorf(field, "config namespace and dnsName in host entry cannot be empty: %q", host)
		}
		if ns != "*" && ns != "." && !isDNS1123Label(ns) {
			r.errorf(field, "invalid namespace value %q in gateway host %q", ns, host)
		}
	}
	if name != "*" && !strings.Contains(name, ".") {
		r.errorf(field, "short names (non FQDN) are not allowed in gateway hosts: %q", name)
	}
	if reason := wildcardDomainProblem(name); reason != "" && !isIPAddress(name) {
		r.errorf(field, "%s", reason)
	}
	if reason := partialWildcardProblem(name); reason != "" {
		r.errorf(field, "%s", reason)
	}
}
