package policy

import (
	"maps"
	"testing"
)

func TestParseLabels(t *testing.T) {
	t.Parallel()
	got, err := ParseLabels("istio=ingressgateway, app=edge")
	if err != nil || !maps.Equal(got, map[string]string{"istio": "ingressgateway", "app": "edge"}) {
		t.Errorf("ParseLabels = %v, %v", got, err)
	}
	if got := FormatLabels(got); got != "app=edge,istio=ingressgateway" {
		t.Errorf("FormatLabels = %q", got)
	}
	if got, err := ParseLabels(" "); err != nil || len(got) != 0 {
		t.Errorf("ParseLabels(blank) = %v, %v", got, err)
	}
	if _, err := ParseLabels("novalue"); err == nil {
		t.Error("want an error for a label without =")
	}
}
