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
