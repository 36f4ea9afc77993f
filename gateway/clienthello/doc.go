// Package clienthello reads a TLS ClientHello off a connection without consuming it: crypto/tls
// itself parses the hello from a connection that records what it reads, and the recorded bytes
// are handed back so the connection can be replayed to a TLS server or spliced, unchanged, to an
// upstream that terminates TLS itself.
//
// It holds no TLS credentials and writes nothing to the connection.
package clienthello
