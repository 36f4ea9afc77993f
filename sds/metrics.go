package sds

import (
	"github.com/prometheus/client_golang/prometheus"
)

// storeMetrics are labelled by credential name, which the config bounds.
type storeMetrics struct {
	rotations *prometheus.CounterVec
	rejected  *prometheus.CounterVec
}

var (
	secondsLeftDesc = prometheus.NewDesc("gatehouse_credential_seconds_left",
		"Seconds until the credential's leaf certificate (or first CA certificate) expires; negative once expired.",
		[]string{"name", "serial"}, nil)
	validDesc = prometheus.NewDesc("gatehouse_credential_valid",
		"1 when the credential's certificates are within their validity period now, 0 when one is expired or not yet valid (an error: handshakes will fail).",
		[]string{"name"}, nil)
)

func newStoreMetrics(reg prometheus.Registerer, s *Store) *storeMetrics {
	m := &storeMetrics{
		rotations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_credential_rotations_total",
			Help: "Times a credential was replaced by a new valid version.",
		}, []string{"name"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_credential_rejected_total",
			Help: "Credential updates rejected as invalid (the last good version kept serving).",
		}, []string{"name"}),
	}
	if reg != nil {
		reg.MustRegister(m.rotations, m.rejected, expiryCollector{s})
	}
	return m
}

// expiryCollector computes time-dependent gauges at scrape time, so they never go stale.
type expiryCollector struct{ s *Store }

func (c expiryCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- secondsLeftDesc
	ch <- validDesc
}

func (c expiryCollector) Collect(ch chan<- prometheus.Metric) {
	now := c.s.now()
	for _, cred := range c.s.Credentials() {
		ch <- prometheus.MustNewConstMetric(secondsLeftDesc, prometheus.GaugeValue, cred.NotAfter().Sub(now).Seconds(), cred.Name, cred.Serial())
		valid := 1.0
		if cred.Certificate != nil {
			leaf := cred.Certificate.Leaf
			if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
				valid = 0
			}
		}
		for _, r := range cred.RootCerts {
			if now.Before(r.NotBefore) || now.After(r.NotAfter) {
				valid = 0
			}
		}
		ch <- prometheus.MustNewConstMetric(validDesc, prometheus.GaugeValue, valid, cred.Name)
	}
}
