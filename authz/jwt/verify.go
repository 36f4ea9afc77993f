package jwt

import "context"

// verifyOne checks one token in Envoy's order: parse, issuer, nbf/exp (with 60 s skew),
// audience, then the signature with the keys of a rule that specified one of the token's
// locations and names its issuer (or names none). With several such rules the first that
// accepts the token wins, and the first rule's failure is reported otherwise.
func (a *Authenticator) verifyOne(ctx context.Context, raw string, ruleIdx []int) (*token, *rule, status) {
	now := a.keys.now()
	t := a.keys.verified.peek(raw, now)
	if t == nil {
		var st status
		if t, st = parseToken(raw); st != statusOK {
			return nil, nil, st
		}
	}
	first := statusUnknownIssuer
	for _, idx := range ruleIdx {
		r := a.rules[idx]
		if r.issuer != "" && r.issuer != t.iss {
			continue
		}
		st := a.check(ctx, t, r, now.Unix())
		if st == statusOK {
			return t, r, statusOK
		}
		if first == statusUnknownIssuer {
			first = st
		}
	}
	return nil, nil, first
}

func (a *Authenticator) check(ctx context.Context, t *token, r *rule, now int64) status {
	skew := int64(clockSkew.Seconds())
	if now >= 0 && uint64(now+skew) < t.nbf {
		return statusNotYetValid
	}
	if t.exp != 0 && now >= 0 && uint64(now) > t.exp+uint64(skew) {
		return statusExpired
	}
	if !r.audienceAllowed(t.aud) {
		return statusAudienceNotAllowed
	}
	ks := r.source.ready()
	if ks == nil {
		// No keys yet: the request waits for the fetch up to the rule's timeout, as Envoy pauses
		// a request while it fetches a remote JWKS.
		fctx, cancel := context.WithTimeout(ctx, r.timeout)
		var err error
		ks, err = r.source.keySet(fctx, false)
		cancel()
		if ks == nil {
			a.keys.log.Debug("no jwks for rule", "rule", r.where, "error", err)
			return statusJwksFetchFail
		}
	}
	nowT := a.keys.now()
	if a.keys.verified.get(t.raw, ks, nowT) != nil {
		return statusOK
	}
	st := ks.verify(t)
	if st == statusJwksKidAlgMismatch && t.kid != "" {
		// An unknown kid may be a key the issuer just rotated in: fetch again (rate-limited).
		fctx, cancel := context.WithTimeout(ctx, r.timeout)
		fresh, _ := r.source.keySet(fctx, true)
		cancel()
		if fresh != nil && fresh != ks {
			ks, st = fresh, fresh.verify(t)
		}
	}
	if st == statusOK {
		a.keys.verified.put(t, ks, nowT)
	}
	return st
}
