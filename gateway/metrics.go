package gateway

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-dev/gatehouse/gateway/accesslog"
)

// metrics are Istio's standard request metrics, as an Istio gateway's Envoy reports them, and
// Gatehouse's own for what Istio has no standard name for (TLS handshakes, proxied
// connections, requests in flight). Request labels are bounded by the config and by status
// codes: never by path, client or header values.
type metrics struct {
	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	requestBytes  *prometheus.HistogramVec
	responseBytes *prometheus.HistogramVec
	// active is Envoy's downstream_rq_active: what a drain is waiting for.
	active prometheus.Gauge

	// source is source_workload and source_workload_namespace: this gateway.
	source [2]string
	// series caches the label handles of each seriesKey seen, so a request neither formats
	// nor hashes a dozen label values.
	series sync.Map

	// TLS handshakes, by whether a session was resumed, and their failures by a bounded reason.
	handshakes      *prometheus.CounterVec
	handshakeErrors *prometheus.CounterVec
	// Proxied connections by kind (tcp, passthrough, tls) and their bytes by direction
	// (received from and sent to the client).
	tcpConnections    *prometheus.CounterVec
	tcpActive         *prometheus.GaugeVec
	tcpBytes          *prometheus.CounterVec
	tcpUpstreamErrors *prometheus.CounterVec
	// authzDenied counts requests and connections authorization refused, by which of Envoy's
	// filters would have (Envoy's jwt_authn and rbac "denied" counters).
	authzDenied *prometheus.CounterVec
}

// istioLabels are the labels of Istio's standard metrics that a gateway can fill, in the order
// seriesKey.labels returns their values. The workload labels of the destination are "unknown":
// the gateway routes to services, and does not know which workload answered.
var istioLabels = []string{
	"reporter",
	"source_workload", "source_workload_namespace",
	"destination_service", "destination_service_name", "destination_service_namespace",
	"destination_workload", "destination_workload_namespace",
	"request_protocol", "response_code", "grpc_response_status", "response_flags",
	"connection_security_policy",
}

// istioBuckets are the buckets Istio's histograms use, durations in milliseconds and sizes in
// bytes alike (Envoy's default histogram buckets).
var istioBuckets = []float64{0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000}

func newMetrics(reg prometheus.Registerer, workload CompileOptions) *metrics {
	workload = workload.withDefaults()
	return &metrics{
		source: [2]string{sourceWorkload(workload.Labels), workload.Namespace},
		requests: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "istio_requests_total",
			Help: "Requests the gateway served (Istio standard metric; response_code 0: the client went away first).",
		}, istioLabels)),
		duration: register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "istio_request_duration_milliseconds",
			Help:    "Time from request start to the end of the response, in milliseconds (Istio standard metric).",
			Buckets: istioBuckets,
		}, istioLabels)),
		requestBytes: register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "istio_request_bytes",
			Help:    "Request body sizes, in bytes (Istio standard metric).",
			Buckets: istioBuckets,
		}, istioLabels)),
		responseBytes: register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "istio_response_bytes",
			Help:    "Response body sizes, in bytes (Istio standard metric).",
			Buckets: istioBuckets,
		}, istioLabels)),
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
		authzDenied: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_authz_denied_total",
			Help: "Requests and TCP connections denied before routing, by reason: jwt (RequestAuthentication), rbac (AuthorizationPolicy), custom (a CUSTOM provider the gateway cannot ask), error (no decision).",
		}, []string{"reason"})),
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

// sourceWorkload is source_workload for a gateway with these labels: Istio's gateway
// Deployments are named istio-<istio label> (istio-ingressgateway, istio-egressgateway).
func sourceWorkload(labels map[string]string) string {
	if v := labels["istio"]; v != "" {
		return "istio-" + v
	}
	return "unknown"
}

// seriesKey is what tells one request's series from another's. Its strings are the Table's
// own (cluster name, ServiceEntry), so building a key allocates nothing.
type seriesKey struct {
	cluster      string // Destination.Cluster, "" when no destination was chosen
	serviceEntry string // Cluster.ServiceEntry, "namespace/name"
	code         int
	flags        accesslog.ResponseFlags
	grpc         bool
	grpcStatus   int8 // -1 when the response carries no valid grpc-status
}

// series are the label handles of one seriesKey.
type series struct {
	requests      prometheus.Counter
	duration      prometheus.Observer
	requestBytes  prometheus.Observer
	responseBytes prometheus.Observer
}

// observe records one finished request.
func (m *metrics) observe(k seriesKey, d time.Duration, received, sent int64) {
	s := m.seriesFor(k)
	s.requests.Inc()
	s.duration.Observe(float64(d) / float64(time.Millisecond))
	s.requestBytes.Observe(float64(received))
	s.responseBytes.Observe(float64(sent))
}

func (m *metrics) seriesFor(k seriesKey) *series {
	if s, ok := m.series.Load(k); ok {
		return s.(*series)
	}
	v := k.labels(m.source)
	s := &series{
		requests:      m.requests.WithLabelValues(v...),
		duration:      m.duration.WithLabelValues(v...),
		requestBytes:  m.requestBytes.WithLabelValues(v...),
		responseBytes: m.responseBytes.WithLabelValues(v...),
	}
	actual, _ := m.series.LoadOrStore(k, s)
	return actual.(*series)
}

// labels returns the values of istioLabels for k.
func (k seriesKey) labels(source [2]string) []string {
	service, name, namespace := "unknown", "unknown", "unknown"
	if k.cluster != "" {
		service = k.cluster[strings.LastIndexByte(k.cluster, '|')+1:]
		name, namespace = serviceName(service, k.serviceEntry)
	}
	protocol, grpcStatus := "http", ""
	if k.grpc {
		protocol = "grpc"
	}
	if k.grpcStatus >= 0 {
		grpcStatus = strconv.Itoa(int(k.grpcStatus))
	}
	return []string{
		"source",
		source[0], source[1],
		service, name, namespace,
		"unknown", "unknown",
		protocol, statusLabel(k.code), grpcStatus, k.flags.String(),
		// What Istio reports when the source proxy cannot know the destination's policy.
		"unknown",
	}
}

// serviceName splits a host into destination_service_name and destination_service_namespace
// as Istio does: a Kubernetes service host names both ("reviews.shop.svc.cluster.local"); any
// other host is its own name, in the namespace of the ServiceEntry that defines it.
func serviceName(host, serviceEntry string) (name, namespace string) {
	if parts := strings.SplitN(host, ".", 4); len(parts) == 4 && strings.HasPrefix(parts[2]+".", "svc.") {
		return parts[0], parts[1]
	}
	namespace = "unknown"
	if i := strings.IndexByte(serviceEntry, '/'); i > 0 {
		namespace = serviceEntry[:i]
	}
	return host, namespace
}

// grpcStatus returns the grpc-status of a gRPC response, from its trailers or (for a
// trailers-only response) its headers; -1 when there is none or it is not one of gRPC's codes,
// so an upstream cannot grow the label set.
func grpcStatus(h http.Header) int8 {
	v := h["Grpc-Status"]
	if len(v) == 0 {
		v = h[http.TrailerPrefix+"Grpc-Status"]
	}
	if len(v) != 1 {
		return -1
	}
	n, err := strconv.Atoi(v[0])
	if err != nil || n < 0 || n > 16 {
		return -1
	}
	return int8(n)
}
