package accesslog

// ResponseFlags is Envoy's %RESPONSE_FLAGS% as a bitset. The bit order is Envoy's own, so
// appending the set codes in bit order prints several flags the way Envoy does ("UF,URX").
type ResponseFlags uint32

// The flags Envoy documents, in Envoy's order.
const (
	FailedLocalHealthCheck           ResponseFlags = 1 << iota // LH
	NoHealthyUpstream                                          // UH
	UpstreamRequestTimeout                                     // UT
	LocalReset                                                 // LR
	UpstreamRemoteReset                                        // UR
	UpstreamConnectionFailure                                  // UF
	UpstreamConnectionTermination                              // UC
	UpstreamOverflow                                           // UO
	NoRouteFound                                               // NR
	DelayInjected                                              // DI
	FaultInjected                                              // FI
	RateLimited                                                // RL
	UnauthorizedExternalService                                // UAEX
	RateLimitServiceError                                      // RLSE
	DownstreamConnectionTermination                            // DC
	UpstreamRetryLimitExceeded                                 // URX
	StreamIdleTimeout                                          // SI
	InvalidEnvoyRequestHeaders                                 // IH
	DownstreamProtocolError                                    // DPE
	UpstreamMaxStreamDurationReached                           // UMSDR
	ResponseFromCacheFilter                                    // RFCF
	NoFilterConfigFound                                        // NFCF
	DurationTimeout                                            // DT
	UpstreamProtocolError                                      // UPE
	NoClusterFound                                             // NC
	OverloadManager                                            // OM
	DNSResolutionFailed                                        // DF
	DropOverload                                               // DO
	DownstreamRemoteReset                                      // DR
	UnconditionalDropOverload                                  // UDO
)

// flagCodes is indexed by bit position; it must stay in step with the constants above.
var flagCodes = [...]string{
	"LH", "UH", "UT", "LR", "UR", "UF", "UC", "UO", "NR", "DI", "FI", "RL", "UAEX", "RLSE",
	"DC", "URX", "SI", "IH", "DPE", "UMSDR", "RFCF", "NFCF", "DT", "UPE", "NC", "OM", "DF",
	"DO", "DR", "UDO",
}

// AppendTo appends the flags as Envoy prints them: the short codes of the set bits joined by
// commas, or "-" when none is set. Bits past the last known flag are ignored.
func (f ResponseFlags) AppendTo(b []byte) []byte {
	first := true
	for i, code := range flagCodes {
		if f&(1<<i) == 0 {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		b = append(b, code...)
		first = false
	}
	if first {
		b = append(b, '-')
	}
	return b
}

// String returns the flags as AppendTo prints them.
func (f ResponseFlags) String() string {
	return string(f.AppendTo(make([]byte, 0, 16)))
}
