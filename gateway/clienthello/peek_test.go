package clienthello

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"testing"
	"time"
)

// clientHello returns the first flight a crypto/tls client sends for serverName and protos.
func clientHello(t testing.TB, serverName string, protos ...string) []byte {
	t.Helper()
	client, server := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = tls.Client(client, &tls.Config{ServerName: serverName, NextProtos: protos, InsecureSkipVerify: true}).Handshake()
	}()
	// One Read on a pipe returns one Write: the client writes its hello in one record.
	buf := make([]byte, 64<<10)
	n, err := server.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	_ = server.Close()
	_ = client.Close()
	<-done
	return buf[:n]
}

// pipe returns the server end of a connection whose client end writes data, then closes unless
// keepOpen. Both ends are closed at cleanup.
func pipe(t testing.TB, data []byte, keepOpen bool) net.Conn {
	t.Helper()
	client, server := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = client.Write(data)
		if !keepOpen {
			_ = client.Close()
		}
	}()
	t.Cleanup(func() {
		_ = server.Close()
		_ = client.Close()
		<-done
	})
	return server
}

func TestPeek(t *testing.T) {
	t.Parallel()
	hello := clientHello(t, "shop.example.com", "h2", "http/1.1")
	tests := []struct {
		name     string
		data     []byte
		keepOpen bool
		want     Hello
		wantErr  error
	}{
		{name: "sni and alpn", data: hello, keepOpen: true, want: Hello{ServerName: "shop.example.com", ALPN: []string{"h2", "http/1.1"}}},
		{name: "no sni", data: clientHello(t, ""), keepOpen: true, want: Hello{}},
		{name: "plaintext http", data: []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), wantErr: ErrNotTLS},
		{name: "truncated then closed", data: hello[:len(hello)/2], wantErr: io.ErrUnexpectedEOF},
		{name: "truncated then silent", data: hello[:len(hello)/2], keepOpen: true, wantErr: ErrTimeout},
		{name: "nothing then closed", data: nil, wantErr: io.EOF},
		{name: "nothing then silent", data: nil, keepOpen: true, wantErr: ErrTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			conn := pipe(t, tt.data, tt.keepOpen)
			got, recorded, err := Peek(conn, time.Now().Add(200*time.Millisecond))
			if !bytes.HasPrefix(tt.data, recorded) {
				t.Errorf("recorded %d bytes that are not a prefix of what was sent", len(recorded))
			}
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) && !(tt.wantErr == io.ErrUnexpectedEOF && errors.Is(err, io.EOF)) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.ServerName != tt.want.ServerName || !equal(got.ALPN, tt.want.ALPN) {
				t.Errorf("hello = %+v, want %+v", got, tt.want)
			}
			if len(got.SupportedVersions) == 0 {
				t.Error("no supported versions")
			}
			if !bytes.Equal(recorded, tt.data) {
				t.Errorf("recorded %d bytes, want the whole hello (%d)", len(recorded), len(tt.data))
			}
		})
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestReplayCompletesHandshake peeks a real client's hello, then serves TLS on the replayed
// connection: the client must not notice the peek.
func TestReplayCompletesHandshake(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	cert := selfSigned(t, "replay.example.com")
	served := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			served <- err
			return
		}
		defer conn.Close()
		hello, prefix, err := Peek(conn, time.Now().Add(5*time.Second))
		if err != nil {
			served <- err
			return
		}
		if hello.ServerName != "replay.example.com" {
			served <- errors.New("wrong SNI " + hello.ServerName)
			return
		}
		_ = conn.SetReadDeadline(time.Time{})
		srv := tls.Server(Replay(conn, prefix), &tls.Config{Certificates: []tls.Certificate{cert}})
		if err := srv.Handshake(); err != nil {
			served <- err
			return
		}
		_, err = srv.Write([]byte("hello"))
		served <- err
	}()
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{ServerName: "replay.example.com", RootCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	buf := make([]byte, 5)
	if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "hello" {
		t.Fatalf("read %q, %v", buf, err)
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
}

func selfSigned(t *testing.T, name string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

func TestReplayReadsPrefixFirst(t *testing.T) {
	t.Parallel()
	conn := pipe(t, []byte(" world"), false)
	got, err := io.ReadAll(Replay(conn, []byte("hello")))
	if err != nil || string(got) != "hello world" {
		t.Fatalf("read %q, %v", got, err)
	}
}
