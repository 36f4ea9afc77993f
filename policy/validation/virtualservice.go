package validation

import (
	networking "istio.io/api/networking/v1alpha3"
)

func validateVirtualService(meta Meta, vs *networking.VirtualService, r *report) {}
