package gateway

import (
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// loginSet is what the snapshot's OIDCLogins do at this gateway, installed with one atomic swap:
// the login whose selector takes the gateway, and the logins serving CUSTOM extension providers
// by name. An OIDCLogin attached both ways is one gate, with one session store.
type loginSet struct {
	selected   *loginGate
	byProvider map[string]*loginGate
	// own lists every gate once, oldest OIDCLogin first: the callback and logout paths of each
	// are served at this gateway whatever the policies match.
	own []*loginGate
	// snap is what the set was built from, rebuilt from when a Secret changes: secrets is
	// closed at the first change after the set read them.
	snap    *policy.Snapshot
	secrets <-chan struct{}
}

// retiredStoreGrace is how long a replaced Redis connection stays open for the requests still
// running on the gates that used it.
const retiredStoreGrace = time.Minute

// selectedLogin is the login whose selector takes this gateway; nil for none.
func (g *Gateway) selectedLogin() *loginGate {
	if s := g.logins.Load(); s != nil {
		return s.selected
	}
	return nil
}

// providerLogin is the login serving the named CUSTOM provider; nil for none.
func (g *Gateway) providerLogin(name string) *loginGate {
	if s := g.logins.Load(); s != nil {
		return s.byProvider[name]
	}
	return nil
}

// hasLogins reports whether any OIDCLogin attaches to this gateway.
func (g *Gateway) hasLogins() bool {
	s := g.logins.Load()
	return s != nil && len(s.own) > 0
}

// gate returns s's gate for the OIDCLogin namespace/name; nil for none.
func (s *loginSet) gate(name string) *loginGate {
	if s == nil {
		return nil
	}
	for _, gt := range s.own {
		if gt.name == name {
			return gt
		}
	}
	return nil
}

// inScope reports whether an OIDCLogin may attach to this gateway: it is in the gateway's
// namespace or the root namespace, as Istio scopes a workload selector and a CUSTOM policy.
func inScope(snap *policy.Snapshot, r *policy.Resource, o CompileOptions) bool {
	return r.Namespace == o.Namespace || r.Namespace == snap.RootNamespace()
}

// selectLogin returns the OIDCLogin whose selector takes this gateway workload. The oldest wins,
// as policy's analysis warns about the others.
func selectLogin(snap *policy.Snapshot, o CompileOptions) *policy.Resource {
	for _, r := range snap.List(policy.KindOIDCLogin) { // oldest first
		spec, ok := r.Spec.(*policy.OIDCLogin)
		if ok && spec.Selector != nil && inScope(snap, r, o) && policy.SelectorMatches(spec.Selector.MatchLabels, o.Labels) {
			return r
		}
	}
	return nil
}

// providerLogins returns, by extension provider name, the OIDCLogin that serves it here: the
// oldest in scope, as policy's analysis warns about the others. The MeshConfig entry of that name
// stays what makes a CUSTOM policy valid; the login takes the place of the service it names.
func providerLogins(snap *policy.Snapshot, o CompileOptions) map[string]*policy.Resource {
	out := map[string]*policy.Resource{}
	for _, r := range snap.List(policy.KindOIDCLogin) {
		spec, ok := r.Spec.(*policy.OIDCLogin)
		if !ok || spec.Provider == "" || !inScope(snap, r, o) {
			continue
		}
		if _, taken := out[spec.Provider]; !taken {
			out[spec.Provider] = r
		}
	}
	return out
}

// applyLogins builds the logins of snap for this gateway and installs them. Called with g.mu
// held. An unchanged login (spec and Secrets) is kept as is; a changed one keeps its session
// store when the issuer, client and session settings are the same, so a reload signs nobody out.
func (g *Gateway) applyLogins(snap *policy.Snapshot) {
	prev := g.logins.Load()
	next := &loginSet{snap: snap}
	if g.opts.Credentials != nil {
		next.secrets = g.opts.Credentials.DataChanged()
	}
	gate := func(r *policy.Resource) *loginGate {
		if gt := next.gate(r.NamespacedName()); gt != nil {
			return gt
		}
		was := prev.gate(r.NamespacedName())
		gt := g.buildLogin(r, was)
		next.own = append(next.own, gt)
		switch {
		case gt == was:
		case gt.broken != nil:
			g.log.Error("oidc login unusable: the requests it covers get 503", "login", gt.name, "version", snap.Version, "error", gt.broken)
		default:
			g.log.Info("oidc login in force", "login", gt.name, "version", snap.Version, "issuer", gt.issuer)
		}
		return gt
	}
	if r := selectLogin(snap, g.opts.Compile); r != nil {
		next.selected = gate(r)
	}
	if byName := providerLogins(snap, g.opts.Compile); len(byName) > 0 {
		next.byProvider = make(map[string]*loginGate, len(byName))
		for name, r := range byName {
			next.byProvider[name] = gate(r)
		}
	}
	if prev != nil {
		for _, gt := range prev.own {
			if next.gate(gt.name) == nil {
				g.log.Info("oidc login removed", "login", gt.name, "version", snap.Version)
			}
		}
	}
	g.logins.Store(next)
	if len(next.own) > 0 && next.secrets != nil {
		g.watchLoginSecrets.Do(func() { go g.rebuildLoginsOnSecretChange() })
	}
	retireRedis(prev.redisClients(), next.redisClients(), func(c *redis.Client) {
		time.AfterFunc(retiredStoreGrace, func() { _ = c.Close() })
	})
}

// rebuildLoginsOnSecretChange rebuilds the logins from the last snapshot whenever a Secret's data
// changes: a rotated client secret or session key arrives without a new snapshot, since
// snapshots carry Secret names only.
func (g *Gateway) rebuildLoginsOnSecretChange() {
	for {
		select {
		case <-g.logins.Load().secrets:
		case <-g.stop:
			return
		}
		g.mu.Lock()
		if s := g.logins.Load(); !g.closed && s != nil {
			g.applyLogins(s.snap)
		}
		g.mu.Unlock()
	}
}

// redisClients lists the Redis connections s's gates use.
func (s *loginSet) redisClients() []*redis.Client {
	if s == nil {
		return nil
	}
	var out []*redis.Client
	for _, gt := range s.own {
		if c := gt.redisClient(); c != nil {
			out = append(out, c)
		}
	}
	return out
}

// retireRedis passes each connection of prev that next does not use to closeIt, once.
func retireRedis(prev, next []*redis.Client, closeIt func(*redis.Client)) {
	done := map[*redis.Client]bool{}
	for _, c := range next {
		done[c] = true
	}
	for _, c := range prev {
		if !done[c] {
			done[c] = true
			closeIt(c)
		}
	}
}

// closeLogins closes the logins' Redis connections at shutdown, once no request is in flight.
func (g *Gateway) closeLogins() {
	retireRedis(g.logins.Load().redisClients(), nil, func(c *redis.Client) { _ = c.Close() })
}
