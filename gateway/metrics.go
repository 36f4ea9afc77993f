package gateway

import (
	"errors"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Route labels for requests no VirtualService route took. They cannot collide with route names,
// which always contain slashes.
const (
	routeNone          = "NR" // Envoy's response flag for "no route"
	routeHTTPSRedirect = "https-redirect"
)

// metrics are labelled by route and status code only, both bounded by the config: never by
// host, path or client.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	// active is Envoy's downstream_rq_active: what a drain is waiting for.
	active prometheus.Gauge
}

// durationBuckets are Istio's istio_request_duration_milliseconds buckets, in seconds.
var durationBuckets = []float64{0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600, 1800, 3600}

func newMetrics(reg prometheus.Registerer) *metrics {
	return &metrics{
		requests: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_requests_total",
			Help: "Requests served by the gateway, by route (namespace/virtualservice/route, NR for no route) and status code (0: the client went away first).",
		}, []string{"route", "code"})),
		duration: register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gatehouse_request_duration_seconds",
			Help:    "Time from request start to the end of the response, by route and status code.",
			Buckets: durationBuckets,
		}, []string{"route", "code"})),
		active: register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gatehouse_downstream_requests_active",
			Help: "Requests the gateway is serving now (Envoy's downstream_rq_active).",
		})),
	}
}

// register registers c, or returns the identical collector already registered (several
// Gateways in one process share them).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic("gateway: registering metrics: " + err.Error())
	}
	return c
}

func (m *metrics) observe(route string, code int, start time.Time) {
	c := statusLabel(code)
	m.requests.WithLabelValues(route, c).Inc()
	m.duration.WithLabelValues(route, c).Observe(time.Since(start).Seconds())
}

// statusLabels avoids formatting a status code per request.
var statusLabels = func() (out [600]string) {
	for i := range out {
		out[i] = strconv.Itoa(i)
	}
	return out
}()

func statusLabel(code int) string {
	if code >= 0 && code < len(statusLabels) {
		return statusLabels[code]
	}
	return strconv.Itoa(code)
}
