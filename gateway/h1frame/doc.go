// Package h1frame guards the HTTP/1.x request stream of a downstream connection against request
// smuggling. It follows the framing of the requests a client sends (request line and header
// block; a body by Content-Length or chunked coding, with extensions and trailers) and never
// hands the server the end of a header block whose framing another HTTP/1 parser could read
// differently: both Content-Length and Transfer-Encoding, Transfer-Encoding on HTTP/1.0, a
// folded (obs-fold) line beside either, or a Content-Length that is not one decimal number.
//
// Envoy rejects such requests in its HTTP/1 codec with 400
// (http1.content_length_and_chunked_not_allowed). Go's server instead drops Content-Length and
// serves the request by Transfer-Encoding, so the check has to happen below it, on the bytes.
//
// It holds no request state beyond a few counters, allocates nothing per read, and changes no
// byte it delivers; it only stops delivering.
package h1frame
