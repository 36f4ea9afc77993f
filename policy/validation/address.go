package validation

import (
	"net/netip"
	pathpkg "path"
	"strings"
)

// unixAddressPrefix marks a Unix domain socket in Gateway binds and endpoint addresses.
const unixAddressPrefix = "unix://"

func isIPAddress(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

// validateIPOrCIDR accepts an IP address or a CIDR block, as ServiceEntry addresses and route
// destinationSubnets do.
func validateIPOrCIDR(field string, s string, r *report) {
	if strings.Count(s, "/") == 1 {
		if _, err := netip.ParsePrefix(s); err != nil {
			r.errorf(field, "%q is not a valid CIDR block", s)
		}
		return
	}
	if !isIPAddress(s) {
		r.errorf(field, "%q is not a valid IP address", s)
	}
}

// validateUnixAddress checks the path after "unix://": an absolute path to a file, or an
// abstract socket name starting with '@'. Paths are Unix-style whatever OS Gatehouse runs on.
func validateUnixAddress(field string, socket string, r *report) {
	switch {
	case socket == "":
		r.errorf(field, "unix address must not be empty")
	case strings.HasPrefix(socket, "@"):
	case !pathpkg.IsAbs(socket) || strings.HasSuffix(socket, "/"):
		r.errorf(field, "unix address %q is not an absolute path to a file", socket)
	}
}
