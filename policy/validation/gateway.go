package validation

import (
	networking "istio.io/api/networking/v1alpha3"
)

func validateGateway(meta Meta, gw *networking.Gateway, r *report) {}
