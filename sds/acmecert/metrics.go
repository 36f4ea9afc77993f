package acmecert

import "github.com/prometheus/client_golang/prometheus"

// metrics are labelled by issuer (namespace/name), which the config bounds.
type metrics struct {
	orders  *prometheus.CounterVec
	failing *prometheus.GaugeVec
	expiry  *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		orders: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_acme_orders_total",
			Help: "ACME certificate orders by issuer and result (ok|failed); a certificate found in the cache is no order.",
		}, []string{"issuer", "result"}),
		failing: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gatehouse_acme_issuer_failing",
			Help: "1 when an ACMEIssuer failed 3 or more times in a row (an error: its certificate is not being obtained or renewed), else 0.",
		}, []string{"issuer"}),
		expiry: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gatehouse_acme_certificate_expiry_timestamp_seconds",
			Help: "When the certificate an ACMEIssuer serves expires, in Unix seconds.",
		}, []string{"issuer"}),
	}
	if reg != nil {
		reg.MustRegister(m.orders, m.failing, m.expiry)
	}
	return m
}

// forget drops a removed issuer's series.
func (m *metrics) forget(issuer string) {
	m.orders.DeletePartialMatch(prometheus.Labels{"issuer": issuer})
	m.failing.DeleteLabelValues(issuer)
	m.expiry.DeleteLabelValues(issuer)
}
