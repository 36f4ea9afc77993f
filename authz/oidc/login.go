package oidc

import (
	"cmp"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/authz/oidc/session"
	"github.com/gatehouse-dev/gatehouse/policy"
)

// Options build a Login.
type Options struct {
	// Name is the OIDCLogin's namespace/name, for errors and logs.
	Name string
	Spec *policy.OIDCLogin
	// ClientSecret is the value of Spec.ClientSecret, read from the credential store by the
	// caller: secrets never enter the snapshot.
	ClientSecret string
	Store        session.Store
	// HTTPClient makes the calls to the provider (discovery, keys, token, revocation); nil is
	// http.DefaultClient.
	HTTPClient *http.Client
	Logger     *slog.Logger
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// LoginTTL bounds the time from the redirect to the provider to the callback. Default 10 min.
	LoginTTL time.Duration
	// LoopLimit login attempts per browser within LoopWindow are allowed; the next gets an error
	// page. Defaults 20 and 1 min.
	LoopLimit  int
	LoopWindow time.Duration
	// RetryDiscovery is how long a failed discovery is remembered before the next request tries
	// again. Default 5 s.
	RetryDiscovery time.Duration
}

// Login is one compiled OIDCLogin. It is safe for concurrent use.
type Login struct {
	name     string
	spec     *policy.OIDCLogin
	secret   string
	store    session.Store
	log      *slog.Logger
	now      func() time.Time
	loginTTL time.Duration
	provider *lazyProvider
	loops    *loopCounter
	skip     []pathMatch
	headers  headerMapping
	cookies  cookieNames
}

// New compiles a Login. It does not contact the provider: discovery happens on first need, and
// is retried, so a provider down at start-up does not keep the gateway from starting.
func New(o Options) (*Login, error) {
	if o.Spec == nil || o.Store == nil {
		return nil, errors.New("oidc login: nil spec or store")
	}
	name := cmp.Or(o.Name, o.Spec.ClientID)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.HTTPClient == nil {
		o.HTTPClient = http.DefaultClient
	}
	l := &Login{
		name: name, spec: o.Spec, secret: o.ClientSecret, store: o.Store,
		log: o.Logger.With("component", "oidc", "login", name), now: o.Now,
		loginTTL: cmp.Or(o.LoginTTL, 10*time.Minute),
		provider: newLazyProvider(name, o.Spec.Issuer, o.Spec.ClientID, o.HTTPClient, o.Now, cmp.Or(o.RetryDiscovery, 5*time.Second)),
		loops:    newLoopCounter(cmp.Or(o.LoopLimit, 20), cmp.Or(o.LoopWindow, time.Minute)),
		headers:  newHeaderMapping(o.Spec.Headers),
		cookies:  newCookieNames(o.Spec.Session),
	}
	for _, p := range o.Spec.SkipPaths {
		l.skip = append(l.skip, newPathMatch(p))
	}
	return l, nil
}

// Outcome is what Handle did with a request.
type Outcome struct {
	// Answered means Handle wrote the response; the request goes no further.
	Answered bool
	// Strip are header names to remove from the client's request, then Set is added. Both are
	// empty when Answered.
	Strip []string
	Set   http.Header
	// Session is the signed-in user when the request passed with one; nil on a skip path.
	Session *session.Session
}

// Apply removes the stripped headers from h and sets ours.
func (o Outcome) Apply(h http.Header) {
	for _, name := range o.Strip {
		h.Del(name)
	}
	for name, vs := range o.Set {
		h[name] = vs
	}
}

// Handle serves the login's own paths (callback, logout), passes requests with a live session
// or on a skip path, and answers the others: a browser navigation goes to the provider, an API
// request gets 401. See the package documentation for the contract.
func (l *Login) Handle(w http.ResponseWriter, r *http.Request) Outcome {
	switch r.URL.Path {
	case l.spec.CallbackPath:
		l.callback(w, r)
		return Outcome{Answered: true}
	case l.spec.Logout.Path:
		l.logout(w, r)
		return Outcome{Answered: true}
	}
	for _, m := range l.skip {
		if m.match(r.URL.Path) {
			return l.withoutOurCookies(r, Outcome{Strip: l.headers.strip(false)})
		}
	}
	if s := l.currentSession(r); s != nil {
		return l.withoutOurCookies(r, Outcome{Strip: l.headers.strip(true), Set: l.headers.set(s), Session: s})
	}
	l.unauthenticated(w, r)
	return Outcome{Answered: true}
}

// currentSession returns the live session the request's cookie names, with its tokens
// refreshed when due (refresh.go), or nil. A store failure counts as no session (the user signs
// in again), and is logged.
func (l *Login) currentSession(r *http.Request) *session.Session {
	c, err := r.Cookie(l.cookies.session)
	if err != nil || c.Value == "" {
		return nil
	}
	s, err := l.store.Get(r.Context(), c.Value)
	if err != nil {
		if !errors.Is(err, session.ErrNotFound) {
			l.log.Error("session store: get", "error", err)
		}
		return nil
	}
	return l.fresh(r.Context(), c.Value, s)
}

// unauthenticated answers a request without a session: the provider for a browser navigation,
// 401 for everything else.
func (l *Login) unauthenticated(w http.ResponseWriter, r *http.Request) {
	switch {
	case isGRPC(r):
		writeGRPCUnauthenticated(w)
	case isNavigation(r):
		l.startLogin(w, r)
	default:
		writeJSON401(w)
	}
}

// redirectURI is the callback URL registered with the provider, on the host the browser used.
func (l *Login) redirectURI(r *http.Request) string {
	return "https://" + r.Host + l.spec.CallbackPath
}

// absoluteOn makes a same-site path absolute on the request's host; absolute URLs stay as they
// are.
func absoluteOn(r *http.Request, target string) string {
	if strings.HasPrefix(target, "/") && !strings.HasPrefix(target, "//") {
		return "https://" + r.Host + target
	}
	return target
}

// withoutOurCookies keeps the session and browser cookies from the upstream, which has no use
// for them and could replay a session id it saw.
func (l *Login) withoutOurCookies(r *http.Request, o Outcome) Outcome {
	all := r.Cookies()
	kept := make([]string, 0, len(all))
	for _, c := range all {
		if c.Name != l.cookies.session && c.Name != l.cookies.browser {
			kept = append(kept, c.Name+"="+c.Value)
		}
	}
	if len(kept) == len(all) {
		return o
	}
	o.Strip = append(o.Strip, "Cookie")
	if len(kept) > 0 {
		if o.Set == nil {
			o.Set = http.Header{}
		}
		o.Set.Set("Cookie", strings.Join(kept, "; "))
	}
	return o
}
