package ca

import "github.com/prometheus/client_golang/prometheus"

type serverMetrics struct {
	issued      *prometheus.CounterVec
	signSeconds prometheus.Histogram
}

func newServerMetrics(reg prometheus.Registerer) *serverMetrics {
	m := &serverMetrics{
		issued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_ca_certificates_issued_total",
			Help: "CreateCertificate calls by result (ok, unauthenticated, rate_limited, invalid_csr, error).",
		}, []string{"result"}),
		signSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "gatehouse_ca_sign_seconds",
			Help: "Time to verify a CSR and sign its certificate.",
			// ECDSA P-256 signing takes tens of microseconds; the tail is contention.
			Buckets: prometheus.ExponentialBuckets(0.00005, 2, 14),
		}),
	}
	if reg != nil {
		m.issued = register(reg, m.issued)
		m.signSeconds = register(reg, m.signSeconds)
	}
	return m
}
