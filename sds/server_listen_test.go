package sds

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestListen(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr string
		err  string
	}{
		{addr: "127.0.0.1:0"},
		{addr: "[::1]:0"},
		{addr: "localhost:0"},
		{addr: ":0", err: "binds only loopback"},
		{addr: "0.0.0.0:15010", err: "binds only loopback"},
		{addr: "10.1.2.3:15010", err: "binds only loopback"},
		{addr: "no-port", err: "missing port"},
		{addr: "unix://", err: "empty unix socket path"},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			t.Parallel()
			ln, err := Listen(tt.addr)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				if strings.Contains(tt.addr, "::1") {
					t.Skip("no IPv6 loopback here")
				}
				t.Fatal(err)
			}
			_ = ln.Close()
		})
	}
}

func TestListenUnix(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, addr := range []string{"unix://" + filepath.Join(dir, "a.sock"), "unix:" + filepath.Join(dir, "b.sock")} {
		ln, err := Listen(addr)
		if err != nil {
			t.Fatal(err)
		}
		path := ln.Addr().String()
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want owner-only", addr, fi.Mode().Perm())
		}
		// A socket in use is not taken over.
		if _, err := Listen(addr); err == nil {
			t.Errorf("%s: second listener on a live socket", addr)
		}
		_ = ln.Close()
	}

	// A socket file left by a dead process is replaced.
	stale := filepath.Join(dir, "stale.sock")
	ln, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	_ = ln.Close()
	ln, err = Listen("unix://" + stale)
	if err != nil {
		t.Fatalf("stale socket: %v", err)
	}
	_ = ln.Close()

	// A regular file is never removed.
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Listen("unix://" + file); err == nil {
		t.Error("listened over a regular file")
	}
}
