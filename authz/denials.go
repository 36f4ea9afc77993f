package authz

import (
	"context"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/authz/jwt"
)

// redacted replaces credentials in what the denial log keeps and what explanations print.
const redacted = "[redacted]"

// DenialLog keeps the last denied requests of an Engine, for /debug/authz. It is filled on denials
// only (allowed requests cost one branch), keeps copies of the requests with credentials redacted,
// and explains them only when read.
type DenialLog struct {
	e    *Engine
	mu   sync.Mutex
	buf  []denial
	next int
	seq  uint64
}

// denial is one recorded denial: the config that decided it, a redacted copy of the request, and
// the JWT outcome at the time (the token itself is not kept, so it cannot be verified again).
type denial struct {
	seq   uint64
	at    time.Time
	c     *Compiled
	r     Request
	d     Decision
	authn *authnOutcome
}

// DenialEntry is what was recorded of one denial: when, and Check's decision then.
type DenialEntry struct {
	Seq    uint64    `json:"seq"`
	Time   time.Time `json:"time"`
	Status int       `json:"status"`
	Reason string    `json:"reason"`
	Policy string    `json:"policy,omitempty"`
}

// RecordDenials makes e keep its last n denials (n < 1 means 50) and returns the log; calling it
// again replaces the log.
func (e *Engine) RecordDenials(n int) *DenialLog {
	if n < 1 {
		n = 50
	}
	l := &DenialLog{e: e, buf: make([]denial, 0, n)}
	e.denials.Store(l)
	return l
}

// record keeps a redacted copy of r and its decision; c is the config that decided it.
func (l *DenialLog) record(c *Compiled, r *Request, d *Decision) {
	rec := denial{at: time.Now(), c: c, r: redactRequest(r),
		d: Decision{Status: d.Status, Reason: d.Reason, Policy: d.Policy, CustomProvider: d.CustomProvider}}
	switch d.Reason {
	case reasonNoConfig, reasonNoWorkload, reasonBadConfig:
	case ReasonDenied:
		rec.authn = &authnOutcome{id: d.Identity}
	default:
		rec.authn = &authnOutcome{failure: &jwt.Failure{Status: d.Status, Reason: d.Reason}}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq++
	rec.seq = l.seq
	if len(l.buf) < cap(l.buf) {
		l.buf = append(l.buf, rec)
		return
	}
	l.buf[l.next] = rec
	l.next = (l.next + 1) % len(l.buf)
}

// Explain explains the recorded denials, newest first, against the config that decided each.
func (l *DenialLog) Explain(ctx context.Context) []Explanation {
	l.mu.Lock()
	recs := make([]denial, 0, len(l.buf))
	for i := range l.buf {
		// Oldest first is next, next+1, …; walk backwards from the newest.
		j := (l.next - 1 - i + 2*len(l.buf)) % len(l.buf)
		recs = append(recs, l.buf[j])
	}
	l.mu.Unlock()
	out := make([]Explanation, 0, len(recs))
	for i := range recs {
		rec := &recs[i]
		ex := l.e.explain(ctx, rec.c, &rec.r, rec.authn)
		ex.Denial = &DenialEntry{Seq: rec.seq, Time: rec.at.UTC(), Status: rec.d.Status, Reason: rec.d.Reason, Policy: rec.d.Policy}
		out = append(out, ex)
	}
	return out
}

// redactRequest copies r with credentials removed: the headers and query parameters a token
// travels in, and any value shaped like a JWT.
func redactRequest(r *Request) Request {
	out := *r
	if r.Header != nil {
		out.Header = make(http.Header, len(r.Header))
		for k, vs := range r.Header {
			cp := make([]string, len(vs))
			for i, v := range vs {
				cp[i] = redactHeader(k, v)
			}
			out.Header[k] = cp
		}
	}
	out.RawQuery = redactQuery(r.RawQuery)
	if r.FilterMetadata != nil {
		out.FilterMetadata = make(map[string]map[string]any, len(r.FilterMetadata))
		for k, m := range r.FilterMetadata {
			out.FilterMetadata[k] = maps.Clone(m)
		}
	}
	return out
}

// sensitiveHeader reports headers that carry credentials whatever their value looks like.
func sensitiveHeader(canonical string) bool {
	switch canonical {
	case "Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie", "X-Api-Key":
		return true
	}
	return false
}

// redactHeader keeps an Authorization scheme ("Bearer [redacted]") so a reader still sees what
// kind of credential was sent.
func redactHeader(canonical, v string) string {
	if sensitiveHeader(canonical) {
		if scheme, _, ok := strings.Cut(v, " "); ok && (canonical == "Authorization" || canonical == "Proxy-Authorization") {
			return scheme + " " + redacted
		}
		return redacted
	}
	if looksLikeJWT(v) {
		return redacted
	}
	return v
}

// redactQuery replaces the values of token parameters (access_token, as Istio's default
// location, and any JWT-shaped value, for custom fromParams).
func redactQuery(raw string) string {
	if raw == "" {
		return ""
	}
	parts := strings.Split(raw, "&")
	for i, p := range parts {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			continue
		}
		dv, err := url.QueryUnescape(v)
		if err != nil {
			dv = v
		}
		switch strings.ToLower(k) {
		case "access_token", "id_token", "token", "code":
			parts[i] = k + "=" + url.QueryEscape(redacted)
			continue
		}
		if looksLikeJWT(dv) {
			parts[i] = k + "=" + url.QueryEscape(redacted)
		}
	}
	return strings.Join(parts, "&")
}

// looksLikeJWT reports a compact JWS anywhere in v: base64url JSON ("eyJ") with two dots.
func looksLikeJWT(v string) bool {
	i := strings.Index(v, "eyJ")
	return i >= 0 && strings.Count(v[i:], ".") >= 2
}

func explainedRequest(r *Request) ExplainedRequest {
	out := ExplainedRequest{Protocol: "tcp"}
	if w := r.Workload; w != nil {
		out.Workload = w.Namespace
		if len(w.Labels) > 0 {
			keys := make([]string, 0, len(w.Labels))
			for k := range w.Labels {
				keys = append(keys, k+"="+w.Labels[k])
			}
			slices.Sort(keys)
			out.Workload += " {" + strings.Join(keys, ",") + "}"
		}
	}
	if r.HTTP {
		out.Protocol, out.Method, out.Host, out.Path = "http", r.Method, r.Host, r.Path
		out.Query = redactQuery(r.RawQuery)
		for k, vs := range r.Header {
			if out.Headers == nil {
				out.Headers = map[string]string{}
			}
			red := make([]string, len(vs))
			for i, v := range vs {
				red[i] = redactHeader(k, v)
			}
			out.Headers[strings.ToLower(k)] = strings.Join(red, ",")
		}
	}
	if r.Source.IsValid() {
		out.Source = r.Source.String()
	}
	if r.RemoteIP.IsValid() {
		out.RemoteIP = r.RemoteIP.String()
	}
	if r.Destination.IsValid() {
		out.Destination = r.Destination.String()
	}
	out.SourcePrincipal, out.SNI = r.SourcePrincipal, r.SNI
	return out
}
