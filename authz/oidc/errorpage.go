package oidc

import (
	"html"
	"net/http"
)

// writeErrorPage answers a browser with a short page. msg is ours, never the provider's or the
// client's text, but it is escaped all the same.
func writeErrorPage(w http.ResponseWriter, status int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	t := html.EscapeString(http.StatusText(status))
	_, _ = w.Write([]byte("<!doctype html><title>" + t + "</title><h1>" + t + "</h1><p>" +
		html.EscapeString(msg) + "</p><p><a href=\"/\">Start again</a></p>\n"))
}

// redirect answers 302 without caching: a cached redirect to the provider would reuse a state.
func redirect(w http.ResponseWriter, target string) {
	w.Header().Set("Location", target)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusFound)
}
