package validation

import (
	security "istio.io/api/security/v1beta1"
)

// The CRD caps rules per policy and sources per rule.
const (
	maxAuthzRules = 512
	maxRuleFroms  = 512
)

func validateAuthorizationPolicy(meta Meta, ap *security.AuthorizationPolicy, r *report) {
	validateDryRun(meta, ap.GetAction(), r)
	validatePolicyTarget(ap.GetSelector(), ap.GetTargetRef(), ap.GetTargetRefs(), r)
	validateAuthzAction(ap, r)

	if len(ap.GetRules()) > maxAuthzRules {
		r.errorf("spec.rules", "too many rules: %d, at most %d allowed", len(ap.GetRules()), maxAuthzRules)
	}
	for i, rule := range ap.GetRules() {
		validateAuthzRule(path("spec.rules", i), rule, ap.GetAction(), r)
	}
}

// validateAuthzAction checks the action against rules and provider. A DENY or CUSTOM policy
// without rules matches nothing, so Istio refuses it as surely a mistake (unlike ALLOW without
// rules, which deliberately denies everything); `rules: [{}]` is how to match every request.
func validateAuthzAction(ap *security.AuthorizationPolicy, r *report) {
	action := ap.GetAction()
	const matchAll = "add an empty rule `{}` to apply it to every request"
	switch action {
	case security.AuthorizationPolicy_DENY:
		if ap.Rules == nil {
			r.errorf("spec.rules", "DENY action without `rules` can never be triggered; %s", matchAll)
		}
	case security.AuthorizationPolicy_CUSTOM:
		if ap.Rules == nil {
			r.errorf("spec.rules", "CUSTOM action without `rules` can never be triggered; %s", matchAll)
		}
		if ap.GetProvider().GetName() == "" {
			r.errorf("spec.provider.name", "`provider.name` must not be empty for the CUSTOM action: it names the MeshConfig extensionProvider to call")
		}
	case security.AuthorizationPolicy_AUDIT:
		// Istio accepts it, but an AUDIT policy without rules audits nothing.
		if ap.Rules == nil {
			r.warnf("spec.rules", "AUDIT action without `rules` never audits any request; %s", matchAll)
		}
	}
	if ap.GetProvider() != nil && action != security.AuthorizationPolicy_CUSTOM {
		r.errorf("spec.provider", "`provider` is only allowed with the CUSTOM action, found action %s", action)
	}
}

func validateAuthzRule(field string, rule *security.Rule, action security.AuthorizationPolicy_Action, r *report) {
	if rule == nil {
		r.errorf(field, "a rule must not be null")
		return
	}
	// A present but empty list is not the same as an absent one: absent means "any", empty would
	// mean "none" and is refused as ambiguous.
	if rule.From != nil && len(rule.From) == 0 {
		r.errorf(path(field, "from"), "`from` must not be empty: omit it to match any source")
	}
	if len(rule.GetFrom()) > maxRuleFroms {
		r.errorf(path(field, "from"), "too many `from` entries: %d, at most %d allowed", len(rule.GetFrom()), maxRuleFroms)
	}
	var hasFrom, tcpFrom, hasTo, tcpTo bool
	for i, from := range rule.GetFrom() {
		present, tcp := validateRuleFrom(path(path(field, "from"), i), from, action, r)
		hasFrom = hasFrom || present
		tcpFrom = tcpFrom || tcp
	}
	if rule.To != nil && len(rule.To) == 0 {
		r.errorf(path(field, "to"), "`to` must not be empty: omit it to match any operation")
	}
	for i, to := range rule.GetTo() {
		present, tcp := validateRuleTo(path(path(field, "to"), i), to, r)
		hasTo = hasTo || present
		tcpTo = tcpTo || tcp
	}
	for i, c := range rule.GetWhen() {
		validateAuthzCondition(path(path(field, "when"), i), c, action, r)
	}

	// A TCP connection carries no HTTP attributes, and Istio's rule for a DENY that can only
	// match on them is to deny the connection outright.
	httpOnly := (hasFrom && !hasTo && !tcpFrom) || (hasTo && !tcpTo)
	if action == security.AuthorizationPolicy_DENY && httpOnly {
		r.warnf(field, "this DENY rule matches only HTTP attributes, so the policy will deny all traffic to TCP ports in its scope; list the ports in `to.operation.ports` to limit it")
	}
}
