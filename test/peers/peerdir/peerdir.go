// Package peerdir locates what test/peers/install.sh installs outside the Debian packages.
package peerdir

import (
	"os"
	"path/filepath"
)

// Cache is ${XDG_CACHE_HOME:-$HOME/.cache}/gatehouse-peers, where install.sh puts each peer in a
// directory named for its version.
func Cache() (string, error) {
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "gatehouse-peers"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".cache", "gatehouse-peers"), nil
}
