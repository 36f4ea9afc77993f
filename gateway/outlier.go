package gateway

import (
	"sync"
	"sync/atomic"
	"time"
)

// OutlierDetection is a DestinationRule outlierDetection after merging, with Istio's defaults
// filled in.
type OutlierDetection struct {
	// Consecutive5xxErrors ejects an endpoint after this many 5xx (or connection failures) in a
	// row; 0 disables it. Istio's default 5.
	Consecutive5xxErrors uint32 `yaml:"consecutive5xxErrors"`
	// ConsecutiveGatewayErrors counts only 502, 503, 504 and connection failures; 0 disables it.
	ConsecutiveGatewayErrors uint32 `yaml:"consecutiveGatewayErrors,omitempty"`
	// Interval is how often an ejected endpoint's multiplier may decay. Default 10s.
	Interval Duration `yaml:"interval"`
	// BaseEjectionTime times the number of ejections is how long an ejection lasts. Default 30s.
	BaseEjectionTime Duration `yaml:"baseEjectionTime"`
	// MaxEjectionPercent caps ejected endpoints (at least one can always be). Default 10.
	MaxEjectionPercent int32 `yaml:"maxEjectionPercent"`
	// MinHealthPercent: below it, ejections are ignored. Default 0.
	MinHealthPercent int32 `yaml:"minHealthPercent,omitempty"`
}

// hostHealth is one endpoint's outlier state, kept by address in the cluster runtime so a
// reload with the same endpoint keeps its ejection.
type hostHealth struct {
	mu           sync.Mutex
	consecutive  uint32
	gateway      uint32
	ejectedUntil time.Time
	// times is Envoy's ejection multiplier; it decays by one per interval spent healthy.
	times      uint32
	lastChange time.Time

	ejectedFlag atomic.Bool
}

func (h *hostHealth) ejected(now time.Time) bool {
	if !h.ejectedFlag.Load() {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if now.Before(h.ejectedUntil) {
		return true
	}
	h.ejectedFlag.Store(false)
	return false
}

// outcome is what one exchange with an endpoint says about its health.
type outcome int

const (
	outcomeSuccess outcome = iota
	// outcome5xx is a 5xx other than a gateway error.
	outcome5xx
	// outcomeGateway is a 502, 503, 504 or a connection failure.
	outcomeGateway
)

func outcomeOf(status int, err error) outcome {
	switch {
	case err != nil:
		return outcomeGateway
	case status == 502 || status == 503 || status == 504:
		return outcomeGateway
	case status >= 500:
		return outcome5xx
	}
	return outcomeSuccess
}

// record updates the endpoint's counters with an outcome and reports whether it should be
// ejected now; allowed says whether the cluster's maxEjectionPercent leaves room.
func (h *hostHealth) record(od *OutlierDetection, o outcome, now time.Time, allowed func() bool) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ejectedFlag.Load() && !now.Before(h.ejectedUntil) {
		h.ejectedFlag.Store(false)
	}
	if interval := time.Duration(od.Interval); h.times > 0 && interval > 0 && !now.Before(h.ejectedUntil) {
		// Decay: each whole interval healthy since the ejection ended (or the last decay)
		// shortens the next ejection; time spent ejected does not count.
		decay := uint32(now.Sub(later(h.lastChange, h.ejectedUntil)) / interval)
		if decay > 0 {
			h.times -= min(decay, h.times)
			h.lastChange = now
		}
	}
	if o == outcomeSuccess {
		h.consecutive, h.gateway = 0, 0
		return false
	}
	h.consecutive++
	if o == outcomeGateway {
		h.gateway++
	}
	trip := (od.Consecutive5xxErrors > 0 && h.consecutive >= od.Consecutive5xxErrors) ||
		(od.ConsecutiveGatewayErrors > 0 && h.gateway >= od.ConsecutiveGatewayErrors)
	if !trip || h.ejectedFlag.Load() || !allowed() {
		return false
	}
	h.times++
	h.ejectedUntil = now.Add(time.Duration(od.BaseEjectionTime) * time.Duration(h.times))
	h.lastChange = now
	h.consecutive, h.gateway = 0, 0
	h.ejectedFlag.Store(true)
	return true
}

// mayEject reports whether one more of the cluster's endpoints may be ejected under
// maxEjectionPercent; as in Envoy, one always may.
func mayEject(c *Cluster, now time.Time) bool {
	ejected := 0
	for _, e := range c.Endpoints {
		if !e.available(now) {
			ejected++
		}
	}
	if ejected == 0 {
		return true
	}
	return (ejected+1)*100 <= len(c.Endpoints)*int(c.OutlierDetection.MaxEjectionPercent)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
