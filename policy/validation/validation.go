package validation

import (
	"fmt"

	"google.golang.org/protobuf/proto"
	meshconfig "istio.io/api/mesh/v1alpha1"
	networking "istio.io/api/networking/v1alpha3"
	security "istio.io/api/security/v1beta1"
)

// Meta is what validation needs of a resource's metadata.
type Meta struct {
	Name        string
	Namespace   string
	Labels      map[string]string
	Annotations map[string]string
}

// Severity of a Finding.
type Severity int

const (
	// Error: Istio (or the API server) rejects the resource.
	Error Severity = iota
	// Warning: Istio accepts the resource but warns.
	Warning
)

// Finding is one problem with a resource.
type Finding struct {
	Severity Severity
	// Field is the path of the offending field from the resource root, in the YAML's own names:
	// "spec.servers[0].tls.mode", "metadata.name". Empty for the resource as a whole.
	Field  string
	Reason string
}

func (f Finding) String() string {
	s := f.Reason
	if f.Field != "" {
		s = f.Field + ": " + s
	}
	if f.Severity == Warning {
		s = "warning: " + s
	}
	return s
}

// Validate checks one resource's spec, dispatching on its istio.io/api type. Unknown types yield
// no findings.
func Validate(meta Meta, spec proto.Message) []Finding {
	r := &report{}
	switch s := spec.(type) {
	case *networking.Gateway:
		validateGateway(meta, s, r)
	case *networking.VirtualService:
		validateVirtualService(meta, s, r)
	case *networking.DestinationRule:
		validateDestinationRule(meta, s, r)
	case *networking.ServiceEntry:
		validateServiceEntry(meta, s, r)
	case *networking.WorkloadEntry:
		validateWorkloadEntry(meta, s, r)
	case *security.PeerAuthentication:
		validatePeerAuthentication(meta, s, r)
	case *security.RequestAuthentication:
		validateRequestAuthentication(meta, s, r)
	case *security.AuthorizationPolicy:
		validateAuthorizationPolicy(meta, s, r)
	case *meshconfig.MeshConfig:
		validateMeshConfig(s, r)
	}
	return r.findings
}

// report collects findings for one resource.
type report struct {
	findings []Finding
}

func (r *report) errorf(field, format string, args ...any) {
	r.findings = append(r.findings, Finding{Severity: Error, Field: field, Reason: fmt.Sprintf(format, args...)})
}

func (r *report) warnf(field, format string, args ...any) {
	r.findings = append(r.findings, Finding{Severity: Warning, Field: field, Reason: fmt.Sprintf(format, args...)})
}

// path joins a field path and an element: path("spec.servers", 2) = "spec.servers[2]",
// path("spec", "servers") = "spec.servers".
func path(base string, elem any) string {
	switch e := elem.(type) {
	case int:
		return fmt.Sprintf("%s[%d]", base, e)
	case string:
		if base == "" {
			return e
		}
		return base + "." + e
	}
	return base
}
