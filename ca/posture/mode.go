package posture

import security "istio.io/api/security/v1beta1"

// Mode is a PeerAuthentication mTLS mode as Istio spells it. UNSET never appears in a Policy:
// it is resolved by inheritance.
type Mode string

// The modes a workload port can enforce.
const (
	// Strict accepts only mutual TLS from mesh peers.
	Strict Mode = "STRICT"
	// Permissive accepts mutual TLS and plaintext: Istio's default, so workloads can migrate.
	Permissive Mode = "PERMISSIVE"
	// Disable accepts plaintext only; TLS is passed through to the app untouched.
	Disable Mode = "DISABLE"
)

// Policy is a workload's effective mTLS mode: Default for every port, Ports overriding by port number.
type Policy struct {
	Default Mode
	// Ports holds the workload-level portLevelMtls entries, already resolved (never UNSET).
	Ports map[uint32]Mode
}

// For returns the mode enforced on one inbound port: its port-level override, else Default.
func (p Policy) For(port uint32) Mode {
	if m, ok := p.Ports[port]; ok {
		return m
	}
	return p.Default
}

// modeOf converts a PeerAuthentication mode; ok is false for UNSET (and for a missing mtls
// block), which the caller resolves by inheriting from the level above.
func modeOf(m *security.PeerAuthentication_MutualTLS) (Mode, bool) {
	switch m.GetMode() {
	case security.PeerAuthentication_MutualTLS_STRICT:
		return Strict, true
	case security.PeerAuthentication_MutualTLS_PERMISSIVE:
		return Permissive, true
	case security.PeerAuthentication_MutualTLS_DISABLE:
		return Disable, true
	default:
		return "", false
	}
}
