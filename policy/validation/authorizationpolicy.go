package validation

import (
	security "istio.io/api/security/v1beta1"
)

func validateAuthorizationPolicy(meta Meta, ap *security.AuthorizationPolicy, r *report) {}
