package main

import (
	"maps"
	"testing"
)

func TestParsePortMap(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    map[uint32]uint32
		wantErr bool
	}{
		{"", map[uint32]uint32{}, false},
		{"80=8080,443=8443", map[uint32]uint32{80: 8080, 443: 8443}, false},
		{" 80 = 8080 ", nil, true},
		{"80", nil, true},
		{"80=70000", nil, true},
		{"x=1", nil, true},
	}
	for _, tt := range tests {
		got, err := parsePortMap(tt.in)
		if (err != nil) != tt.wantErr || (!tt.wantErr && !maps.Equal(got, tt.want)) {
			t.Errorf("parsePortMap(%q) = %v, %v", tt.in, got, err)
		}
	}
}

func TestParseLabels(t *testing.T) {
	t.Parallel()
	got, err := parseLabels("istio=ingressgateway, app=edge")
	if err != nil || !maps.Equal(got, map[string]string{"istio": "ingressgateway", "app": "edge"}) {
		t.Errorf("parseLabels = %v, %v", got, err)
	}
	if _, err := parseLabels("novalue"); err == nil {
		t.Error("want an error for a label without =")
	}
}
