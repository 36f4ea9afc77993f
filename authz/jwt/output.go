package jwt

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"strconv"
)

// claimHeaderValue renders a claim for outputClaimToHeaders the way Envoy's claim_to_headers does:
// strings as is; whole non-negative numbers as integers, other numbers with six decimals
// (std::to_string); booleans as true/false; objects and lists as base64 of their JSON. Absent,
// null and empty values add no header.
func claimHeaderValue(claims map[string]any, path []string) (string, bool) {
	var v any = claims
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return "", false
		}
		if v, ok = m[p]; !ok {
			return "", false
		}
	}
	var s string
	switch t := v.(type) {
	case string:
		s = t
	case float64:
		if t >= 0 && t < math.MaxUint64 && t == math.Trunc(t) {
			s = strconv.FormatUint(uint64(t), 10)
		} else {
			s = strconv.FormatFloat(t, 'f', 6, 64)
		}
	case bool:
		s = strconv.FormatBool(t)
	case map[string]any, []any:
		b, err := json.Marshal(t)
		if err != nil {
			return "", false
		}
		s = base64.StdEncoding.EncodeToString(b)
	}
	return s, s != ""
}
