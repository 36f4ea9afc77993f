package extauthz

import (
	"net/http"
	"net/netip"
	"strings"

	"github.com/gatehouse-dev/gatehouse/authz"
)

// Headers of Envoy's HTTP ext_authz mode.
const (
	// HeaderNamespace, HeaderLabels and HeaderServices name the workload in HTTP mode; set them
	// with Envoy's authorization_request.headers_to_add.
	HeaderNamespace = "X-Gatehouse-Namespace"
	HeaderLabels    = "X-Gatehouse-Labels"
	HeaderServices  = "X-Gatehouse-Services"
	// HeaderAuthHeadersToRemove lists, comma-separated, the request headers Envoy removes before
	// forwarding an allowed request: the HTTP service's form of headers_to_remove.
	HeaderAuthHeadersToRemove = "X-Envoy-Auth-Headers-To-Remove"
)

// ServeHTTP is the HTTP ext_authz service: 200 allows, any other status denies.
func (s *Server) ServeHTTP(w http.ResponseWriter, hr *http.Request) {
	r, bad := s.httpRequest(hr)
	if bad != nil {
		s.log.WarnContext(hr.Context(), "ext_authz: malformed HTTP check", "reason", bad.Reason)
		writeDenied(w, *bad)
		return
	}
	d := s.decide(hr.Context(), r)
	if !d.Allowed {
		writeDenied(w, d)
		return
	}
	for _, h := range d.SetHeaders {
		w.Header().Set(h.Name, h.Value)
	}
	if len(d.RemoveHeaders) > 0 {
		w.Header().Set(HeaderAuthHeadersToRemove, strings.Join(d.RemoveHeaders, ", "))
	}
	w.WriteHeader(http.StatusOK)
}

func writeDenied(w http.ResponseWriter, d authz.Decision) {
	for _, h := range d.ResponseHeaders {
		w.Header().Add(h.Name, h.Value)
	}
	w.Header().Set("Content-Type", "text/plain")
	status := d.Status
	if status < 400 {
		status = http.StatusForbidden
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(d.Reason))
}

// httpRequest maps what Envoy's http_service sends to an authz.Request.
func (s *Server) httpRequest(hr *http.Request) (*authz.Request, *authz.Decision) {
	st := s.settings.Load()
	target, ok := strings.CutPrefix(hr.RequestURI, s.prefix)
	if !ok {
		return nil, &authz.Decision{Status: http.StatusBadRequest, Reason: "path does not start with the path prefix"}
	}
	if target == "" || target[0] == '?' {
		target = "/" + target
	}
	path, rawQuery, err := st.splitPath(target)
	if err != nil {
		return nil, &authz.Decision{Status: http.StatusBadRequest, Reason: err.Error()}
	}
	scheme := hr.Header.Get("X-Forwarded-Proto")
	if scheme == "" {
		scheme = "http"
	}
	src := lastForwardedFor(hr.Header["X-Forwarded-For"])
	r := &authz.Request{
		HTTP:            true,
		Method:          hr.Method,
		Host:            hr.Host,
		Path:            path,
		RawQuery:        rawQuery,
		Scheme:          scheme,
		Header:          hr.Header,
		Source:          netip.AddrPortFrom(src, 0),
		RemoteIP:        st.remoteIP(src, hr.Header["X-Forwarded-For"]),
		SourcePrincipal: xfccPrincipal(hr.Header.Values("X-Forwarded-Client-Cert")),
	}
	ref := workloadRef{namespace: hr.Header.Get(HeaderNamespace), labels: hr.Header.Get(HeaderLabels), services: hr.Header.Get(HeaderServices)}
	if r.Workload, err = s.workloads.resolve(ref, ""); err != nil {
		return nil, &authz.Decision{Status: http.StatusForbidden, Reason: "x-gatehouse-" + err.Error()}
	}
	return r, nil
}

// xfccPrincipal is the SPIFFE ID (without "spiffe://") in the URI key of the last
// x-forwarded-client-cert element: the client certificate the Envoy in front verified.
func xfccPrincipal(values []string) string {
	if len(values) == 0 {
		return ""
	}
	elems := splitQuoted(values[len(values)-1], ',')
	for _, kv := range splitQuoted(elems[len(elems)-1], ';') {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		if strings.EqualFold(k, "URI") {
			if id, ok := strings.CutPrefix(strings.Trim(v, `"`), "spiffe://"); ok {
				return id
			}
		}
	}
	return ""
}

// splitQuoted splits s on sep outside double quotes, as XFCC quotes values holding ',' or ';'.
func splitQuoted(s string, sep byte) []string {
	var out []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			quoted = !quoted
		case sep:
			if !quoted {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}
