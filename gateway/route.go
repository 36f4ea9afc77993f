package gateway

import (
	"time"
)

// Route is one compiled route: a match and what to do with the request. Exactly one of
// Destinations, Redirect and DirectResponse is set, except for a route whose destinations could
// not be compiled, which has none and answers 503 as Envoy does for a missing cluster.
type Route struct {
	// Name is the metrics label: "namespace/virtualservice/route-name-or-index".
	Name  string      `yaml:"name"`
	Match *RouteMatch `yaml:"match"`

	Destinations   []*Destination  `yaml:"route,omitempty"`
	Redirect       *Redirect       `yaml:"redirect,omitempty"`
	DirectResponse *DirectResponse `yaml:"directResponse,omitempty"`

	Rewrite *Rewrite `yaml:"rewrite,omitempty"`
	// Timeout bounds the upstream exchange (Istio's route timeout); zero means none, Istio's
	// default.
	Timeout Duration   `yaml:"timeout,omitempty"`
	Headers *HeaderOps `yaml:"headers,omitempty"`
	// Retries is nil when the VirtualService has none: Istio's default policy applies.
	Retries *RetryPolicy `yaml:"retries,omitempty"`
	Fault   *Fault       `yaml:"fault,omitempty"`
	Mirrors []*Mirror    `yaml:"mirrors,omitempty"`
	CORS    *CORSPolicy  `yaml:"corsPolicy,omitempty"`

	totalWeight uint32
}

// Destination is one weighted upstream of a route.
type Destination struct {
	// Cluster is Istio's cluster name, "outbound|port|subset|host".
	Cluster string `yaml:"cluster"`
	// Weight is relative to the other destinations of the route.
	Weight  uint32     `yaml:"weight"`
	Headers *HeaderOps `yaml:"headers,omitempty"`
	// NotFound marks a destination no ServiceEntry resolves: requests to it get 503, as Envoy
	// answers for a missing cluster.
	NotFound bool `yaml:"notFound,omitempty"`

	cluster *Cluster
}

// pick chooses a destination by weight; nil when the route has none.
func (r *Route) pick() *Destination { return pickDestination(r.Destinations, r.totalWeight) }

// Rewrite changes the request before it is forwarded.
type Rewrite struct {
	// URI replaces the matched prefix (or the whole path for exact and regex matches).
	URI string `yaml:"uri,omitempty"`
	// URIRegex replaces every match of a regex in the path.
	URIRegex *RegexRewrite `yaml:"uriRegexRewrite,omitempty"`
	// Authority replaces the Host header.
	Authority string `yaml:"authority,omitempty"`
}

// Redirect answers with a redirect instead of forwarding.
type Redirect struct {
	URI       string `yaml:"uri,omitempty"`
	Authority string `yaml:"authority,omitempty"`
	Scheme    string `yaml:"scheme,omitempty"`
	// Port replaces the port; zero keeps the request's (or drops it when it is the default of
	// a changed scheme).
	Port uint32 `yaml:"port,omitempty"`
	// StripPort drops the port: the redirect port was the default one of the scheme.
	StripPort bool `yaml:"stripPort,omitempty"`
	Code      int  `yaml:"code"`
}

// DirectResponse answers with a fixed status and body.
type DirectResponse struct {
	Status int    `yaml:"status"`
	Body   string `yaml:"body,omitempty"`
}

// Duration is a time.Duration written as "5s" in golden files.
type Duration time.Duration

// MarshalYAML writes the Go duration string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }
