package ca

import "testing"

func TestParseSPIFFE(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    Identity
		wantErr bool
	}{
		{in: "spiffe://cluster.local/ns/apps/sa/web", want: Identity{"cluster.local", "apps", "web"}},
		{in: "spiffe://td-1.example_x/ns/a.b/sa/C_d-1", want: Identity{"td-1.example_x", "a.b", "C_d-1"}},
		{in: "SPIFFE://cluster.local/ns/apps/sa/web", wantErr: true},
		{in: "https://cluster.local/ns/apps/sa/web", wantErr: true},
		{in: "spiffe://cluster.local/ns/apps/sa/web/extra", wantErr: true},
		{in: "spiffe://cluster.local/ns/apps/sa/", wantErr: true},
		{in: "spiffe://cluster.local/ns//sa/web", wantErr: true},
		{in: "spiffe://cluster.local/sa/web/ns/apps", wantErr: true},
		{in: "spiffe://cluster.local/ns/../sa/web", wantErr: true},
		{in: "spiffe://Cluster.Local/ns/apps/sa/web", wantErr: true},
		{in: "spiffe://cluster.local:443/ns/apps/sa/web", wantErr: true},
		{in: "spiffe://user@cluster.local/ns/apps/sa/web", wantErr: true},
		{in: "spiffe://cluster.local/ns/apps/sa/web?x=1", wantErr: true},
		{in: "spiffe://cluster.local/ns/apps/sa/web#f", wantErr: true},
		{in: "spiffe://cluster.local/ns/a%2Fb/sa/web", wantErr: true},
		{in: "spiffe:///ns/apps/sa/web", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseSPIFFE(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseSPIFFE(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if err == nil && got != tt.want {
			t.Errorf("ParseSPIFFE(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
		if err == nil && got.SPIFFE() != tt.in {
			t.Errorf("round trip %q -> %q", tt.in, got.SPIFFE())
		}
	}
}
