package kubepeer

import "k8s.io/client-go/rest"

// RESTConfig is a client-go config for the API server as the admin, the same identity as
// Kubeconfig. Each call returns a new value the caller may change (QPS, impersonation, ...).
func (p *Peer) RESTConfig() *rest.Config {
	return &rest.Config{
		Host:            p.Server,
		BearerToken:     p.AdminToken,
		TLSClientConfig: rest.TLSClientConfig{CAData: append([]byte(nil), p.CAPEM...)},
	}
}
