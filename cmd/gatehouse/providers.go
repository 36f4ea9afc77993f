package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync/atomic"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	networking "istio.io/api/networking/v1alpha3"

	"github.com/gatehouse-dev/gatehouse/authz"
	"github.com/gatehouse-dev/gatehouse/authz/opa"
	"github.com/gatehouse-dev/gatehouse/authz/provider"
	"github.com/gatehouse-dev/gatehouse/policy"
)

// customProviders holds the CUSTOM extension providers of the current snapshot, which the
// engine, the gateway and the ext_authz server all read.
type customProviders struct {
	log *slog.Logger
	cur atomic.Pointer[provider.Set]
	// logins are the provider names OIDCLogins serve: a gateway runs the login in place of the
	// service MeshConfig names, so the provider is usable whether or not that service is.
	logins atomic.Pointer[map[string]bool]
}

// ready is the engine's CustomProviderReady.
func (c *customProviders) ready(name string) bool {
	if l := c.logins.Load(); l != nil && (*l)[name] {
		return true
	}
	return c.cur.Load().Has(name)
}

// current is the gateway's Providers.
func (c *customProviders) current() *provider.Set { return c.cur.Load() }

// checkResponse is the ext_authz server's Custom.
func (c *customProviders) checkResponse(ctx context.Context, name string, r *authz.Request, body []byte) *authv3.CheckResponse {
	resp, _ := c.cur.Load().CheckResponse(ctx, name, r, body)
	return resp
}

// apply builds the providers of snap's MeshConfig and installs them; it runs before the engine
// gets the snapshot's policies, so a policy never names a provider that is not there yet. A
// provider with an invalid field is left out (its CUSTOM rules deny) and logged. The names
// Settings.opa lists are served by the built-in OPA; one whose Rego does not compile keeps its
// previous good policy when it had one.
func (c *customProviders) apply(snap *policy.Snapshot) {
	prev := c.cur.Load()
	set, errs := provider.Compile(snap.Mesh, provider.Options{
		Log: c.log, Resolve: serviceEntryResolver(snap), Previous: prev,
		OPA: snap.Settings.OPA, NewOPA: opa.Builtin,
	})
	for _, err := range errs {
		if errors.Is(err, provider.ErrKeptPrevious) {
			c.log.Error("authz: extension provider rebuild failed", "version", snap.Version, "error", err)
			continue
		}
		c.log.Error("authz: extension provider unusable; CUSTOM rules naming it deny what they match", "version", snap.Version, "error", err)
	}
	logins := map[string]bool{}
	for _, r := range snap.List(policy.KindOIDCLogin) {
		if o, ok := r.Spec.(*policy.OIDCLogin); ok && o.Provider != "" {
			logins[o.Provider] = true
		}
	}
	c.logins.Store(&logins)
	c.cur.Store(set)
	prev.Retire(set)
}

// serviceEntryResolver finds a provider's service among snap's ServiceEntries (file mode): the
// first endpoint of the entry with that host, on the endpoint's port for the service port, or the
// host itself (resolved by DNS) when the entry has no endpoints or no entry names the host.
func serviceEntryResolver(snap *policy.Snapshot) func(namespace, host string, port uint32) (string, error) {
	return func(namespace, host string, port uint32) (string, error) {
		for _, r := range snap.List(policy.KindServiceEntry) {
			se, ok := r.Spec.(*networking.ServiceEntry)
			if !ok || (namespace != "" && r.Namespace != namespace) || !slices.Contains(se.GetHosts(), host) {
				continue
			}
			eps := se.GetEndpoints()
			if len(eps) == 0 || eps[0].GetAddress() == "" {
				break
			}
			target := port
			for _, sp := range se.GetPorts() {
				if sp.GetNumber() != port {
					continue
				}
				if p, ok := eps[0].GetPorts()[sp.GetName()]; ok && p != 0 {
					target = p
				} else if sp.GetTargetPort() != 0 {
					target = sp.GetTargetPort()
				}
			}
			return net.JoinHostPort(eps[0].GetAddress(), strconv.Itoa(int(target))), nil
		}
		return net.JoinHostPort(host, strconv.Itoa(int(port))), nil
	}
}
