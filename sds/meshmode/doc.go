// Package meshmode is the sidecar's side of the mesh mTLS posture: an ADS client that
// subscribes, as an Istio sidecar does, to the Listeners the xDS server builds for it, and reads
// the PeerAuthentication mode of each inbound port from the "virtualInbound" listener's filter
// chains. It only reads: the modes are decided by ca/posture and turned into Listeners by
// ca/meshxds; `gatehouse sidecar` enforces them with the gateway.
package meshmode
