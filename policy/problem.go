package policy

import (
	"fmt"
	"sort"
)

// Severity says whether a Problem rejects the config (Error) or only informs (Warning).
type Severity int

const (
	Error Severity = iota
	Warning
)

func (s Severity) String() string {
	if s == Warning {
		return "warning"
	}
	return "error"
}

// Problem is one finding about the config, printed as
// "file:line: Kind/namespace/name: field.path: reason".
type Problem struct {
	Severity Severity
	Origin   Origin
	// Resource is "Kind/namespace/name", empty for problems with a file as a whole.
	Resource string
	Field    string
	Reason   string
}

func (p Problem) String() string {
	s := p.Origin.String() + ": "
	if p.Severity == Warning {
		s += "warning: "
	}
	if p.Resource != "" {
		s += p.Resource + ": "
	}
	if p.Field != "" {
		s += p.Field + ": "
	}
	return s + p.Reason
}

// Problems is a list of findings, sorted by file and line for printing.
type Problems []Problem

// Errors counts the problems that reject the config.
func (ps Problems) Errors() int {
	n := 0
	for _, p := range ps {
		if p.Severity == Error {
			n++
		}
	}
	return n
}

// Err returns an error summarising the Error problems, or nil when there are none.
func (ps Problems) Err() error {
	n := ps.Errors()
	if n == 0 {
		return nil
	}
	for _, p := range ps {
		if p.Severity == Error {
			if n == 1 {
				return fmt.Errorf("%s", p)
			}
			return fmt.Errorf("%s (and %d more errors)", p, n-1)
		}
	}
	return nil
}

// Sort orders problems by file, line, then message, so output is stable.
func (ps Problems) Sort() {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.Origin.File != b.Origin.File {
			return a.Origin.File < b.Origin.File
		}
		if a.Origin.Line != b.Origin.Line {
			return a.Origin.Line < b.Origin.Line
		}
		return a.String() < b.String()
	})
}

// problemAt builds a Problem about a field of r, located at the line the field was written on.
func problemAt(sev Severity, r *Resource, field, reason string) Problem {
	return Problem{
		Severity: sev,
		Origin:   Origin{File: r.Origin.File, Line: r.LineOf(field)},
		Resource: r.Key(),
		Field:    field,
		Reason:   reason,
	}
}
