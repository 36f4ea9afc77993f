package validation

import (
	"testing"

	networking "istio.io/api/networking/v1alpha3"
)

func TestValidateLocalityLbSetting(t *testing.T) {
	t.Parallel()
	f := "lb"
	outlier := &networking.OutlierDetection{}
	for _, tc := range []struct {
		name string
		js   string
		want []wantFinding
	}{
		{"valid distribute", `{"distribute":[{"from":"us-west/zone1/*","to":{"us-west/zone1/*":80,"us-west/zone2/*":20}}]}`, nil},
		{"valid failover", `{"failover":[{"from":"us-east","to":"eu-west"}],"failoverPriority":["topology.istio.io/network"]}`, nil},
		{"distribute and failover", `{"distribute":[{"from":"a","to":{"a":100}}],"failover":[{"from":"a","to":"b"}]}`,
			[]wantFinding{wantErr(f, "simultaneously specify 'distribute' and 'failover'")}},
		{"failover with topology priority", `{"failover":[{"from":"a","to":"b"}],"failoverPriority":["topology.kubernetes.io/zone"]}`,
			[]wantFinding{wantErr(f+".failoverPriority[0]", "topology label")}},
		{"weight out of range", `{"distribute":[{"from":"a","to":{"a":0,"b":100}}]}`,
			[]wantFinding{wantErr(f+".distribute[0].to[a]", "locality weight must be in range [1, 100]")}},
		{"total not 100", `{"distribute":[{"from":"a","to":{"a":50,"b":20}}]}`,
			[]wantFinding{wantErr(f+".distribute[0].to", "total locality weight 70 != 100")}},
		{"misplaced wildcard", `{"distribute":[{"from":"a/*/c","to":{"a":100}}]}`,
			[]wantFinding{wantErr(f+".distribute", "wildcard '*' number can not exceed 1")}},
		{"empty zone", `{"distribute":[{"from":"a//c","to":{"a":100}}]}`,
			[]wantFinding{wantErr(f+".distribute", "must not contain empty region/zone/subzone")}},
		{"overlapping from", `{"distribute":[{"from":"us","to":{"a":100}},{"from":"us/zone1","to":{"a":100}}]}`,
			[]wantFinding{wantErr(f+".distribute", "overlap with previous")}},
		{"overlapping to", `{"distribute":[{"from":"us","to":{"eu/z1/*":50,"eu/z1/s1":50}}]}`,
			[]wantFinding{wantErr(f+".distribute[0].to", "overlap with previous")}},
		{"failover same region", `{"failover":[{"from":"a","to":"a"}]}`,
			[]wantFinding{wantErr(f+".failover[0]", "must specify different regions")}},
		{"failover zone", `{"failover":[{"from":"a/z","to":"b"}]}`,
			[]wantFinding{wantErr(f+".failover[0]", "only specify region")}},
		{"failover wildcard", `{"failover":[{"from":"*","to":"b"}]}`,
			[]wantFinding{wantErr(f+".failover[0]", "should not contain '*'")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			lb := specFromJSON(&networking.LocalityLoadBalancerSetting{}, tc.js)
			checkHelper(t, func(r *report) { validateLocalityLbSetting(f, lb, outlier, r) }, tc.want)
		})
	}
}
