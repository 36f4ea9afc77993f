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

	// TLS handshakes, by whether a session was resumed, and their failures by a bounded reason.
	handshakes      *prometheus.CounterVec
	handshakeErrors *prometheus.CounterVec
	// Proxied connections by kind (tcp, passthrough, tls) and their bytes by direction
	// (received from and sent to the client).
	tcpConnections    *prometheus.CounterVec
	tcpActive         *prometheus.GaugeVec
	tcpBytes          *prometheus.CounterVec
	tcpUpstreamErrors *prometheus.CounterVec
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
		handshakes: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_tls_handshakes_total",
			Help: "TLS handshakes the gateway completed, by whether a session was resumed.",
		}, []string{"resumed"})),
		handshakeErrors: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_tls_handshake_errors_total",
			Help: "TLS connections closed before a completed handshake, by reason (" + handshakeReasonList + ").",
		}, []string{"reason"})),
		tcpConnections: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_tcp_connections_total",
			Help: "Connections proxied as bytes, by kind: tcp (TCP servers), passthrough (TLS passed through by SNI), tls (TLS terminated, then proxied).",
		}, []string{"kind"})),
		tcpActive: register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gatehouse_tcp_connections_active",
			Help: "Connections being proxied as bytes now, by kind.",
		}, []string{"kind"})),
		tcpBytes: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_tcp_bytes_total",
			Help: "Bytes of proxied connections, by kind and direction (received from the client, sent to it); counted when a connection ends.",
		}, []string{"kind", "direction"})),
		tcpUpstreamErrors: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_tcp_upstream_connect_errors_total",
			Help: "Proxied connections closed because no upstream could be reached (no route, no endpoint, connect failure), by kind.",
		}, []string{"kind"})),
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
