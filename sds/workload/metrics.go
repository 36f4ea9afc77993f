package workload

import "github.com/prometheus/client_golang/prometheus"

// metrics have no labels: a process has one workload identity.
type metrics struct {
	expiry    prometheus.Gauge
	rotations prometheus.Counter
	errors    prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		expiry: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gatehouse_workload_cert_expiry_timestamp_seconds",
			Help: "When the workload certificate in force (SDS resource default) expires, in Unix seconds; 0 before the first one.",
		}),
		rotations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatehouse_workload_cert_rotations_total",
			Help: "Workload certificates obtained from the CA and published, the first one included.",
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatehouse_workload_cert_errors_total",
			Help: "Failed attempts to obtain a workload certificate (the one in force, if any, kept serving).",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.expiry, m.rotations, m.errors)
	}
	return m
}
