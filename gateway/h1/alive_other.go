//go:build !(linux || darwin)

package h1

import "net"

// alive cannot peek without blocking here: a closed idle connection shows as a failed
// request, retried when it can be.
func alive(net.Conn) bool { return true }
