package validation

import (
	security "istio.io/api/security/v1beta1"
)

func validateRequestAuthentication(meta Meta, ra *security.RequestAuthentication, r *report) {}
