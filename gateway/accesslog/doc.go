// Package accesslog renders one finished request or connection as an access-log line in the
// format Istio configures Envoy with (text, or JSON with Istio's field names), or in a custom
// MeshConfig accessLogFormat compiled once into a Formatter, and writes those lines to an
// io.Writer without making the request path wait for the writer.
//
// It owns only the formatting and the writing. It must not decide what a request's response
// flags, cluster or addresses are: the gateway fills an Entry and hands it over. It reads no
// configuration beyond the format string it is given (and, for %HOSTNAME% and
// %ENVIRONMENT(X)%, the host name and environment at compile time), and logs no key
// material; header values are escaped, never trusted.
package accesslog
