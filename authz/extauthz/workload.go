package extauthz

import (
	"fmt"
	"strings"
	"sync"

	"github.com/gatehouse-dev/gatehouse/authz"
	"github.com/gatehouse-dev/gatehouse/policy"
)

// Keys of context_extensions (and, prefixed with x-gatehouse-, headers in HTTP mode) that name
// the workload whose policies apply.
const (
	ExtNamespace = "namespace"
	ExtLabels    = "labels"
	ExtServices  = "services"
)

// maxCachedWorkloads bounds the workloads a server remembers; past it they are built per request
// (correct, only slower), so a caller cannot grow memory without limit.
const maxCachedWorkloads = 1024

// workloadRef is what a request says about its workload, as sent.
type workloadRef struct {
	namespace, labels, services string
}

func (w workloadRef) empty() bool { return w == workloadRef{} }

// workloads resolves and caches *authz.Workload values by what the request sent, so that a
// check does not parse labels or compute the workload key again.
type workloads struct {
	def *authz.Workload

	mu    sync.RWMutex
	cache map[workloadRef]*authz.Workload
}

func newWorkloads(def *authz.Workload) *workloads {
	return &workloads{def: def, cache: map[workloadRef]*authz.Workload{}}
}

// resolve picks the workload per the package documentation: the named one, else the destination
// principal's namespace, else the default. It returns nil (denied by the engine) when nothing
// names one; an error when the named one is malformed.
func (ws *workloads) resolve(ref workloadRef, destPrincipal string) (*authz.Workload, error) {
	if ref.namespace == "" {
		ref.namespace = principalNamespace(destPrincipal)
		if ref.namespace == "" && !ref.empty() && ws.def != nil {
			ref.namespace = ws.def.Namespace
		}
	}
	if ref.empty() {
		return ws.def, nil
	}
	if ref.namespace == "" {
		return nil, fmt.Errorf("%s: workload has no namespace", ExtNamespace)
	}
	ws.mu.RLock()
	w, ok := ws.cache[ref]
	ws.mu.RUnlock()
	if ok {
		return w, nil
	}
	labels, err := policy.ParseLabels(ref.labels)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", ExtLabels, ref.labels, err)
	}
	w = authz.NewWorkload(ref.namespace, labels, splitList(ref.services)...)
	ws.mu.Lock()
	if len(ws.cache) < maxCachedWorkloads {
		ws.cache[ref] = w
	}
	ws.mu.Unlock()
	return w, nil
}

// principalNamespace is <ns> of a SPIFFE ID spiffe://<td>/ns/<ns>/sa/<sa>, "" for anything else.
func principalNamespace(principal string) string {
	rest, ok := strings.CutPrefix(principal, "spiffe://")
	if !ok {
		return ""
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 5 || parts[1] != "ns" || parts[3] != "sa" || parts[2] == "" {
		return ""
	}
	return parts[2]
}

func splitList(s string) []string {
	var out []string
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}
