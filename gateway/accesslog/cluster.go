package accesslog

import "strconv"

// ClusterName returns Istio's name for the upstream cluster of a gateway route,
// "outbound|<port>|<subset>|<host>" (subset empty when the destination names none). The
// gateway computes it once per destination when it compiles its routes, so a request never
// builds it.
func ClusterName(port uint32, subset, host string) string {
	b := make([]byte, 0, len("outbound|65535||")+len(subset)+len(host))
	b = append(b, "outbound|"...)
	b = strconv.AppendUint(b, uint64(port), 10)
	b = append(b, '|')
	b = append(b, subset...)
	b = append(b, '|')
	b = append(b, host...)
	return string(b)
}
