package envoy.authz

import data.lib

allow if lib.ok
