package authz

import (
	"fmt"
	"slices"
	"strings"
)

// stageText says in words which stage decided.
var stageText = map[string]string{
	"path":            "the path could not be normalized",
	"workload":        "the engine could not evaluate policies",
	"jwt":             "RequestAuthentication rejected the token",
	"custom":          "a CUSTOM rule matched and its provider is unusable",
	"deny":            "a DENY rule matched",
	"allow":           "an ALLOW rule matched",
	"no-allow-match":  "ALLOW policies apply and no ALLOW rule matched",
	"no-policy":       "no DENY or ALLOW policy applies",
	"custom-provider": "a CUSTOM rule matched and no DENY or ALLOW policy applies: the provider decides",
	"no-deny-match":   "no DENY rule matched and no ALLOW policy applies",
}

// String is the short human report of the explanation.
func (x *Explanation) String() string {
	var b strings.Builder
	d := x.Decision
	verdict := "DENY"
	if d.Allowed {
		verdict = "ALLOW"
	}
	fmt.Fprintf(&b, "decision: %s %d", verdict, d.Status)
	if d.Reason != "" {
		fmt.Fprintf(&b, " %q", d.Reason)
	}
	fmt.Fprintf(&b, ": %s\n", stageText[d.Stage])
	if d.Policy != "" {
		fmt.Fprintf(&b, "  policy: %s\n", d.Policy)
	}
	if d.CustomProvider != "" {
		fmt.Fprintf(&b, "  first ask CUSTOM provider %q: its denial wins\n", d.CustomProvider)
	}
	if r := x.Denial; r != nil {
		fmt.Fprintf(&b, "recorded: #%d at %s: %d %q", r.Seq, r.Time.Format("2006-01-02T15:04:05.000Z"), r.Status, r.Reason)
		if r.Policy != "" {
			fmt.Fprintf(&b, " policy %s", r.Policy)
		}
		b.WriteString("\n")
	}
	x.writeRequest(&b)
	if p := x.Path; p != nil {
		switch {
		case p.Error != "":
			fmt.Fprintf(&b, "path: %s %q: %s\n", p.Mode, p.Input, p.Error)
		case p.Changed:
			fmt.Fprintf(&b, "path: %s %q -> %q\n", p.Mode, p.Input, p.Normalized)
		default:
			fmt.Fprintf(&b, "path: %s %q unchanged\n", p.Mode, p.Input)
		}
	}
	x.writeJWT(&b)
	if c := x.Custom; c != nil {
		switch {
		case c.Unusable != "":
			fmt.Fprintf(&b, "custom: matched %s; denied: %s\n", strings.Join(c.Matched, ", "), c.Unusable)
		default:
			fmt.Fprintf(&b, "custom: provider %q would be called (matched %s)\n", c.Provider, strings.Join(c.Matched, ", "))
		}
	}
	writePolicies(&b, "deny", &x.Deny)
	writePolicies(&b, "allow", &x.Allow)
	for _, n := range x.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	return b.String()
}

func (x *Explanation) writeRequest(b *strings.Builder) {
	r := &x.Request
	if r.Protocol == "http" {
		fmt.Fprintf(b, "request: %s %s%s", r.Method, r.Host, r.Path)
		if r.Query != "" {
			b.WriteString("?" + r.Query)
		}
	} else {
		b.WriteString("request: TCP")
	}
	fmt.Fprintf(b, " to workload %s\n", r.Workload)
	var peer []string
	for _, kv := range [][2]string{{"source", r.Source}, {"remote", r.RemoteIP}, {"destination", r.Destination},
		{"principal", r.SourcePrincipal}, {"sni", r.SNI}} {
		if kv[1] != "" {
			peer = append(peer, kv[0]+" "+kv[1])
		}
	}
	if len(peer) > 0 {
		fmt.Fprintf(b, "  %s\n", strings.Join(peer, ", "))
	}
	names := make([]string, 0, len(r.Headers))
	for k := range r.Headers {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		fmt.Fprintf(b, "  %s: %s\n", k, r.Headers[k])
	}
}

func (x *Explanation) writeJWT(b *strings.Builder) {
	j := &x.JWT
	switch j.Outcome {
	case "none":
		if len(j.Rules) == 0 {
			b.WriteString("jwt: no RequestAuthentication applies\n")
			return
		}
		b.WriteString("jwt: not evaluated\n")
	case "no-token":
		b.WriteString("jwt: no token: the request passes with no identity (requestPrincipals cannot match)\n")
	case "verified":
		fmt.Fprintf(b, "jwt: verified %s by %s\n", j.Principal, j.VerifiedBy)
	case "failed":
		fmt.Fprintf(b, "jwt: failed %d %q\n", j.Status, j.Reason)
	}
	for _, r := range j.Rules {
		fmt.Fprintf(b, "  rule %s\n", r)
	}
}

func writePolicies(b *strings.Builder, action string, p *PolicyStep) {
	if len(p.Policies) == 0 {
		fmt.Fprintf(b, "%s: no %s policy applies\n", action, strings.ToUpper(action))
		return
	}
	fmt.Fprintf(b, "%s: policies %s\n", action, strings.Join(p.Policies, ", "))
	for _, m := range p.Matched {
		fmt.Fprintf(b, "  matched %s\n", m)
	}
	for _, d := range p.Dropped {
		fmt.Fprintf(b, "  dropped on TCP %s\n", d)
	}
	if len(p.Matched) == 0 {
		b.WriteString("  no rule matched\n")
	}
	if n := p.Nearest; n != nil {
		fmt.Fprintf(b, "  nearest %s:\n", n.Rule)
		for _, f := range n.Failures {
			fmt.Fprintf(b, "    %s\n", f)
		}
	}
}
