package sds

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
)

// Listen opens the plaintext xDS listener: "host:port" on a loopback address, or a Unix socket
// written as Istio's agent writes it, "unix:///path" (or "unix:path").
//
// Plaintext xDS hands out private keys, so a TCP address must be loopback; remote proxies get
// the mTLS port that comes with the CA. A Unix socket is made owner-only, and a stale socket
// file left by a previous process is replaced.
func Listen(addr string) (net.Listener, error) {
	if path, ok := unixPath(addr); ok {
		return listenUnix(path)
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("xds listen address %q: %w", addr, err)
	}
	if !isLoopback(host) {
		return nil, fmt.Errorf("xds listen address %q: plaintext xDS serves private keys, so it binds only loopback or a unix:// socket", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("xds listen %s: %w", addr, err)
	}
	return ln, nil
}

func unixPath(addr string) (string, bool) {
	if p, ok := strings.CutPrefix(addr, "unix://"); ok {
		return p, true
	}
	return strings.CutPrefix(addr, "unix:")
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func listenUnix(path string) (net.Listener, error) {
	if path == "" {
		return nil, errors.New("xds listen: empty unix socket path")
	}
	ln, err := net.Listen("unix", path)
	if err != nil && isStaleSocket(path) {
		if rmErr := os.Remove(path); rmErr == nil {
			ln, err = net.Listen("unix", path)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("xds listen unix %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("xds listen unix %s: %w", path, err)
	}
	return ln, nil
}

// isStaleSocket reports whether path is a socket nobody accepts on.
func isStaleSocket(path string) bool {
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode()&os.ModeSocket == 0 {
		return false
	}
	c, err := net.Dial("unix", path)
	if err != nil {
		return true
	}
	_ = c.Close()
	return false
}
