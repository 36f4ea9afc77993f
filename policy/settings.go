package policy

import (
	"fmt"
	"math"
	"time"

	"go.yaml.in/yaml/v3"
)

// Settings is the spec of the Gatehouse kind `Settings` (apiVersion gatehouse.dev/v1alpha1). It
// carries only runtime settings that MeshConfig has no field for.
type Settings struct {
	// DrainTimeout bounds how long a stopping gateway waits for in-flight requests
	// (Istio's terminationDrainDuration plays this part for Envoy; default 5s).
	DrainTimeout Duration `yaml:"drainTimeout" json:"drainTimeout"`
	// Upstream sizes the gateway's connection pool towards upstreams.
	Upstream UpstreamSettings `yaml:"upstream" json:"upstream"`
	// Downstream bounds what a client may cost the gateway's listeners.
	Downstream DownstreamSettings `yaml:"downstream" json:"downstream"`
	// OPA are the extensionProviders names Gatehouse serves in-process with its built-in OPA,
	// instead of calling the provider's service.
	OPA []OPASettings `yaml:"opa" json:"opa,omitempty"`
	// CA tunes the workload CA (issue 9). Its trust domain and aliases are MeshConfig's
	// trustDomain and trustDomainAliases, as for istiod.
	CA CASettings `yaml:"ca" json:"ca"`
}

// CASettings bound the certificates the workload CA issues and how fast it issues them.
type CASettings struct {
	// WorkloadCertTTL is the lifetime of a certificate whose CSR asks for none (istiod's
	// DEFAULT_WORKLOAD_CERT_TTL, 24h).
	WorkloadCertTTL Duration `yaml:"workloadCertTTL" json:"workloadCertTTL"`
	// MaxWorkloadCertTTL caps the lifetime a CSR may ask for (istiod's MAX_WORKLOAD_CERT_TTL,
	// 90 days).
	MaxWorkloadCertTTL Duration `yaml:"maxWorkloadCertTTL" json:"maxWorkloadCertTTL"`
	// RateLimit applies per identity to CreateCertificate.
	RateLimit CARateLimit `yaml:"rateLimit" json:"rateLimit"`
}

// CARateLimit is a token bucket: PerSecond certificates a second, Burst at once.
type CARateLimit struct {
	PerSecond float64 `yaml:"perSecond" json:"perSecond"`
	Burst     int     `yaml:"burst" json:"burst"`
}

// MaxCACertTTL bounds maxWorkloadCertTTL: a workload certificate is meant to be short-lived, and
// ten years is already the bootstrap root's own lifetime.
const MaxCACertTTL = 10 * 365 * 24 * time.Hour

// DownstreamSettings harden the gateway's listeners against slow and greedy clients, with
// Envoy-like defaults. They apply to listeners opened after they change: a listener keeps the
// settings of the snapshot that opened it.
type DownstreamSettings struct {
	// HeaderTimeout bounds the wait for a request's headers (slowloris); default 10s.
	HeaderTimeout Duration `yaml:"headerTimeout" json:"headerTimeout"`
	// IdleTimeout closes a keep-alive connection with no request (Envoy's idle_timeout, 1h).
	IdleTimeout Duration `yaml:"idleTimeout" json:"idleTimeout"`
	// MaxConnections caps a listener's open connections; 0 is unlimited.
	MaxConnections int `yaml:"maxConnections" json:"maxConnections"`
	// MaxConcurrentStreams caps the HTTP/2 streams of one connection; default 100.
	MaxConcurrentStreams int `yaml:"maxConcurrentStreams" json:"maxConcurrentStreams"`
	// MaxRequestBytes caps a request body (413 beyond it); 0 is unlimited.
	MaxRequestBytes int64 `yaml:"maxRequestBytes" json:"maxRequestBytes"`
}

// UpstreamSettings sizes the pooled upstream transport. DestinationRule connectionPool settings,
// where present, take precedence per destination.
type UpstreamSettings struct {
	// MaxIdleConnsPerHost is the idle keep-alive pool per upstream endpoint (Go's default is 2,
	// far too small for a proxy).
	MaxIdleConnsPerHost int `yaml:"maxIdleConnsPerHost" json:"maxIdleConnsPerHost"`
	// IdleTimeout closes idle upstream connections (Istio's default idleTimeout is 1h).
	IdleTimeout Duration `yaml:"idleTimeout" json:"idleTimeout"`
	// ConnectTimeout bounds TCP connect (Istio's default connectTimeout is 10s).
	ConnectTimeout Duration `yaml:"connectTimeout" json:"connectTimeout"`
}

// DefaultSettings returns the settings used when no Settings resource is given.
func DefaultSettings() *Settings {
	return &Settings{
		DrainTimeout: Duration(5 * time.Second),
		Upstream: UpstreamSettings{
			MaxIdleConnsPerHost: 1024,
			IdleTimeout:         Duration(time.Hour),
			ConnectTimeout:      Duration(10 * time.Second),
		},
		Downstream: DownstreamSettings{
			HeaderTimeout:        Duration(10 * time.Second),
			IdleTimeout:          Duration(time.Hour),
			MaxConcurrentStreams: 100,
		},
		CA: CASettings{
			WorkloadCertTTL:    Duration(24 * time.Hour),
			MaxWorkloadCertTTL: Duration(90 * 24 * time.Hour),
			RateLimit:          CARateLimit{PerSecond: 10, Burst: 20},
		},
	}
}

// withDefaults fills the zero fields of s from DefaultSettings.
func (s Settings) withDefaults() *Settings {
	d := DefaultSettings()
	if s.DrainTimeout == 0 {
		s.DrainTimeout = d.DrainTimeout
	}
	if s.Upstream.MaxIdleConnsPerHost == 0 {
		s.Upstream.MaxIdleConnsPerHost = d.Upstream.MaxIdleConnsPerHost
	}
	if s.Upstream.IdleTimeout == 0 {
		s.Upstream.IdleTimeout = d.Upstream.IdleTimeout
	}
	if s.Upstream.ConnectTimeout == 0 {
		s.Upstream.ConnectTimeout = d.Upstream.ConnectTimeout
	}
	if s.Downstream.HeaderTimeout == 0 {
		s.Downstream.HeaderTimeout = d.Downstream.HeaderTimeout
	}
	if s.Downstream.IdleTimeout == 0 {
		s.Downstream.IdleTimeout = d.Downstream.IdleTimeout
	}
	if s.Downstream.MaxConcurrentStreams == 0 {
		s.Downstream.MaxConcurrentStreams = d.Downstream.MaxConcurrentStreams
	}
	s.CA = s.CA.withDefaults(d.CA)
	return &s
}

// withDefaults fills the zero fields of c from d.
func (c CASettings) withDefaults(d CASettings) CASettings {
	if c.WorkloadCertTTL == 0 {
		c.WorkloadCertTTL = d.WorkloadCertTTL
	}
	if c.MaxWorkloadCertTTL == 0 {
		c.MaxWorkloadCertTTL = d.MaxWorkloadCertTTL
	}
	if c.RateLimit.PerSecond == 0 {
		c.RateLimit.PerSecond = d.RateLimit.PerSecond
	}
	if c.RateLimit.Burst == 0 {
		c.RateLimit.Burst = d.RateLimit.Burst
	}
	return c
}

// decodeCA validates Settings.ca as its fields will be in force, defaults filled, reporting each
// problem at the line of the field concerned. A field written as 0 is an error, not the default:
// its author meant something else.
func decodeCA(spec *yaml.Node, s *Settings, d *protoDecoder) {
	fail := func(path, format string, args ...any) {
		line := resolve(spec).Line
		for p := path; p != ""; p = parentPath(p) {
			if l, ok := d.lines[p]; ok {
				line = l
				break
			}
		}
		d.errors = append(d.errors, fieldError{path: path, line: line, reason: fmt.Sprintf(format, args...)})
	}
	written := func(path string) bool { _, ok := d.lines[path]; return ok }
	const (
		ttlPath   = "spec.ca.workloadCertTTL"
		maxPath   = "spec.ca.maxWorkloadCertTTL"
		ratePath  = "spec.ca.rateLimit.perSecond"
		burstPath = "spec.ca.rateLimit.burst"
	)
	for _, z := range []struct {
		path string
		zero bool
	}{
		{ttlPath, s.CA.WorkloadCertTTL == 0}, {maxPath, s.CA.MaxWorkloadCertTTL == 0},
		{ratePath, s.CA.RateLimit.PerSecond == 0}, {burstPath, s.CA.RateLimit.Burst == 0},
	} {
		if z.zero && written(z.path) {
			fail(z.path, "must be positive (leave it out for the default)")
		}
	}
	c := s.CA.withDefaults(DefaultSettings().CA)
	switch {
	case c.MaxWorkloadCertTTL.Std() > MaxCACertTTL:
		fail(maxPath, "%s: at most %s (10 years)", c.MaxWorkloadCertTTL.Std(), MaxCACertTTL)
	case c.WorkloadCertTTL > c.MaxWorkloadCertTTL:
		path := ttlPath
		if !written(ttlPath) {
			path = maxPath
		}
		fail(path, "workloadCertTTL %s exceeds maxWorkloadCertTTL %s", c.WorkloadCertTTL.Std(), c.MaxWorkloadCertTTL.Std())
	}
	// NaN passes every comparison, and +Inf would lift the limit silently: both are refused.
	if r := c.RateLimit.PerSecond; r <= 0 || math.IsNaN(r) || math.IsInf(r, 0) {
		fail(ratePath, "%v: must be a finite positive number", r)
	}
	if c.RateLimit.Burst < 1 {
		fail(burstPath, "%d: must be at least 1", c.RateLimit.Burst)
	}
}

// Duration is a time.Duration written as a Go duration string ("5s", "1m30s") in YAML and JSON.
type Duration time.Duration

// UnmarshalText parses a Go duration string; negative durations are rejected.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("invalid duration %q (want e.g. 5s, 100ms, 1m)", b)
	}
	if v < 0 {
		return fmt.Errorf("duration %q must not be negative", b)
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes the Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// Std returns the time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }
