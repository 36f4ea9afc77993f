// Package h1 is the gateway's HTTP/1.1 upstream client: an http.RoundTripper that writes each
// request and reads its response in the calling goroutine over a pooled connection, with no
// goroutine per connection and no channel hand-off per request (net/http's Transport runs a
// read loop and a write loop per connection). It speaks HTTP/1.1 only, plaintext or over the
// TLS connection its DialTLSContext returns; HTTP/2 upstreams keep net/http's Transport.
//
// It owns connection pooling towards upstream endpoints and the wire exchange. It must not
// make routing, retry-policy or circuit-breaking decisions: those belong to package gateway,
// which sees its errors unchanged where it classifies them (dial errors stay *net.OpError,
// origination errors pass through, a context that ended is wrapped so errors.Is finds it).
package h1
