package validation

import (
	networking "istio.io/api/networking/v1alpha3"
)

// validateDestination checks where a route, mirror or egress sends traffic: a service host (not
// "*": a destination is one service), an optional subset and port.
func validateDestination(field string, d *networking.Destination, r *report) {
	if d == nil {
		return
	}
	if d.GetHost() == "*" {
		r.errorf(path(field, "host"), "invalid destination host %s", d.GetHost())
	} else {
		validateWildcardDomain(path(field, "host"), d.GetHost(), r)
	}
	if d.GetSubset() != "" {
		validateSubsetName(path(field, "subset"), d.GetSubset(), r)
	}
	if d.GetPort() != nil {
		validatePortNumber(path(path(field, "port"), "number"), d.GetPort().GetNumber(), r)
	}
}

// validateSubsetName: subset names become part of Envoy cluster names, so they are DNS labels.
func validateSubsetName(field string, name string, r *report) {
	switch {
	case name == "":
		r.errorf(field, "subset name cannot be empty")
	case !isDNS1123Label(name):
		r.errorf(field, "subset name is invalid: %q must be a DNS-1123 label", name)
	}
}

func validateWeight(field string, w int32, r *report) {
	if w < 0 {
		r.errorf(field, "weight %d < 0", w)
	}
}

// weightedDestination is a VirtualService route destination: HTTP routes' carry header
// operations too, TCP and TLS routes' do not.
type weightedDestination interface {
	comparable
	GetDestination() *networking.Destination
	GetWeight() int32
}

// validateRouteDestinations checks each destination and Istio's rule that several destinations
// cannot all weigh 0. each, when set, checks what only one kind of destination has.
func validateRouteDestinations[D weightedDestination](field string, dests []D, r *report, each func(field string, d D)) {
	var total int64
	var null D
	for i, d := range dests {
		f := path(field, i)
		if d == null {
			r.errorf(f, "route destination may not be null")
			continue
		}
		if d.GetDestination() == nil {
			r.errorf(path(f, "destination"), "destination is required")
		}
		if each != nil {
			each(f, d)
		}
		validateDestination(path(f, "destination"), d.GetDestination(), r)
		validateWeight(path(f, "weight"), d.GetWeight(), r)
		total += int64(d.GetWeight())
	}
	if len(dests) > 1 && total == 0 {
		r.errorf(field, "total destination weight = 0: at least one destination needs a weight")
	}
}
