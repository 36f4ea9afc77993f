package gateway

import (
	"fmt"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// problems collects what Compile finds, once each: a route compiled for several ports or
// gateways would otherwise report the same thing several times.
type problems struct {
	list policy.Problems
	seen map[string]bool
}

func (p *problems) add(sev policy.Severity, r *policy.Resource, field, format string, args ...any) {
	pr := policy.Problem{
		Severity: sev,
		Origin:   policy.Origin{File: r.Origin.File, Line: r.LineOf(field)},
		Resource: r.Key(),
		Field:    field,
		Reason:   fmt.Sprintf(format, args...),
	}
	key := pr.String()
	if p.seen[key] {
		return
	}
	if p.seen == nil {
		p.seen = map[string]bool{}
	}
	p.seen[key] = true
	p.list = append(p.list, pr)
}

// warn reports config the gateway serves differently from what its author may expect.
func (p *problems) warn(r *policy.Resource, field, format string, args ...any) {
	p.add(policy.Warning, r, field, format, args...)
}

// fail reports config the gateway cannot serve at all; policy validation normally rejects it
// first, and a Gateway refuses a Table compiled with failures.
func (p *problems) fail(r *policy.Resource, field, format string, args ...any) {
	p.add(policy.Error, r, field, format, args...)
}
