package accesslog

import (
	"math/bits"
	"testing"
)

func TestResponseFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		flags ResponseFlags
		want  string
	}{
		{0, "-"},
		{NoRouteFound, "NR"},
		{UpstreamConnectionFailure, "UF"},
		{UpstreamOverflow, "UO"},
		{UpstreamRequestTimeout, "UT"},
		{DownstreamConnectionTermination, "DC"},
		{NoHealthyUpstream, "UH"},
		{UpstreamRetryLimitExceeded, "URX"},
		{NoClusterFound, "NC"},
		{DelayInjected, "DI"},
		{FaultInjected, "FI"},
		{RateLimited, "RL"},
		{UnauthorizedExternalService, "UAEX"},
		{UpstreamConnectionTermination, "UC"},
		{UpstreamProtocolError, "UPE"},
		{DownstreamProtocolError, "DPE"},
		{LocalReset, "LR"},
		{UnconditionalDropOverload, "UDO"},
		// Envoy prints set flags in its own order, not the order they were raised in.
		{UpstreamRetryLimitExceeded | UpstreamConnectionFailure, "UF,URX"},
		{FaultInjected | DelayInjected, "DI,FI"},
		{DownstreamConnectionTermination | UpstreamRequestTimeout | NoHealthyUpstream, "UH,UT,DC"},
		{UpstreamOverflow | UpstreamRemoteReset | LocalReset, "LR,UR,UO"},
		// Bits Envoy has not defined are not printed.
		{1 << 31, "-"},
		{NoRouteFound | 1<<31, "NR"},
	}
	for _, tc := range tests {
		if got := tc.flags.String(); got != tc.want {
			t.Errorf("ResponseFlags(%#x) = %q, want %q", uint32(tc.flags), got, tc.want)
		}
	}
}

func TestResponseFlagsTableMatchesConstants(t *testing.T) {
	t.Parallel()
	if got, want := len(flagCodes), bits.Len32(uint32(UnconditionalDropOverload)); got != want {
		t.Fatalf("%d codes for %d flags", got, want)
	}
}
