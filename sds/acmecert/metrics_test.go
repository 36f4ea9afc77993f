package acmecert

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// metricValue finds a series by its text form, `name{label="value",...}` with labels sorted;
// ok is false when the registry has no such series.
func metricValue(t *testing.T, reg *prometheus.Registry, series string) (float64, bool) {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+`="`+l.GetValue()+`"`)
			}
			if f.GetName()+"{"+strings.Join(labels, ",")+"}" != series {
				continue
			}
			return value(m), true
		}
	}
	return 0, false
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	return 0
}

func assertMetric(t *testing.T, reg *prometheus.Registry, series string, want float64) {
	t.Helper()
	if got, _ := metricValue(t, reg, series); got != want {
		t.Errorf("%s = %v, want %v", series, got, want)
	}
}

func assertMetricAtLeast(t *testing.T, reg *prometheus.Registry, series string, want float64) {
	t.Helper()
	if got, _ := metricValue(t, reg, series); got < want {
		t.Errorf("%s = %v, want at least %v", series, got, want)
	}
}

// testLogger sends a Manager's log to the test's, shown when it fails.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
