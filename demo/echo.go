package demo

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"unicode/utf8"
)

// maxBodyBytes bounds what /anything buffers to echo; it is a test peer, not a sink.
const maxBodyBytes = 10 << 20

var errBodyTooLarge = errors.New("request body larger than 10 MiB")

func (b *backend) headers(w http.ResponseWriter, r *http.Request) {
	s := getScratch()
	defer putScratch(s)
	o := b.begin(s)
	appendHeaders(&o, s, r)
	b.finish(w, r, http.StatusOK, s, &o)
}

// anything echoes the request as httpbin does: method, url, path, args, headers, data, json,
// origin. "path" is the escaped path as received, so rewrites and normalization are visible.
func (b *backend) anything(w http.ResponseWriter, r *http.Request) {
	s := getScratch()
	defer putScratch(s)
	body, err := readBody(s.body[:0], r.Body, maxBodyBytes)
	s.body = body
	switch {
	case errors.Is(err, errBodyTooLarge):
		b.writeError(w, r, http.StatusRequestEntityTooLarge, err.Error())
		return
	case err != nil:
		b.writeError(w, r, http.StatusBadRequest, "reading body: "+err.Error())
		return
	}

	o := b.begin(s)
	o.str("method", r.Method)
	o.key("url")
	o.buf = append(o.buf, '"')
	if r.TLS != nil {
		o.buf = append(o.buf, "https://"...)
	} else {
		o.buf = append(o.buf, "http://"...)
	}
	o.buf = appendEscaped(o.buf, r.Host)
	o.buf = appendEscaped(o.buf, r.URL.RequestURI())
	o.buf = append(o.buf, '"')
	o.str("path", r.URL.EscapedPath())
	appendArgs(&o, s, r.URL.RawQuery)
	appendHeaders(&o, s, r)
	appendBody(&o, body)
	o.str("origin", remoteHost(r.RemoteAddr))
	b.finish(w, r, http.StatusOK, s, &o)
}

// ip reports the socket peer as "origin". X-Forwarded-For is whatever the client or a proxy
// wrote, so it is echoed as "forwarded_for" for tests to inspect, never trusted.
func (b *backend) ip(w http.ResponseWriter, r *http.Request) {
	s := getScratch()
	defer putScratch(s)
	o := b.begin(s)
	o.str("origin", remoteHost(r.RemoteAddr))
	if xff := r.Header["X-Forwarded-For"]; len(xff) > 0 {
		o.key("forwarded_for")
		appendJoined(&o, xff, ", ")
	}
	b.finish(w, r, http.StatusOK, s, &o)
}

// appendHeaders writes the request headers sorted by name, with repeated fields joined by ","
// as HTTP allows and httpbin shows them, and with Host, which net/http moves out of r.Header.
func appendHeaders(o *jsonObject, s *scratch, r *http.Request) {
	keys := s.keys[:0]
	for k := range r.Header {
		keys = append(keys, k)
	}
	if r.Host != "" {
		keys = append(keys, "Host")
	}
	slices.Sort(keys)
	s.keys = keys

	o.key("headers")
	o.buf = append(o.buf, '{')
	inner := jsonObject{buf: o.buf}
	for i, k := range keys {
		if i > 0 && keys[i-1] == k {
			continue // a client-sent "Host" field as well as r.Host
		}
		inner.key(k)
		if k == "Host" {
			inner.buf = appendString(inner.buf, r.Host)
			continue
		}
		appendJoined(&inner, r.Header[k], ",")
	}
	o.buf = append(inner.buf, '}')
}

func appendJoined(o *jsonObject, vals []string, sep string) {
	o.buf = append(o.buf, '"')
	for i, v := range vals {
		if i > 0 {
			o.buf = append(o.buf, sep...)
		}
		o.buf = appendEscaped(o.buf, v)
	}
	o.buf = append(o.buf, '"')
}

// appendArgs writes the query as httpbin does: a string for a single value, an array for a
// repeated key. Malformed pairs are skipped, as url.ParseQuery does.
func appendArgs(o *jsonObject, s *scratch, rawQuery string) {
	o.key("args")
	if rawQuery == "" {
		o.buf = append(o.buf, '{', '}')
		return
	}
	q, _ := url.ParseQuery(rawQuery)
	keys := s.keys[:0]
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	s.keys = keys

	o.buf = append(o.buf, '{')
	inner := jsonObject{buf: o.buf}
	for _, k := range keys {
		vals := q[k]
		if len(vals) == 1 {
			inner.str(k, vals[0])
			continue
		}
		inner.key(k)
		inner.buf = append(inner.buf, '[')
		for i, v := range vals {
			if i > 0 {
				inner.buf = append(inner.buf, ',')
			}
			inner.buf = appendString(inner.buf, v)
		}
		inner.buf = append(inner.buf, ']')
	}
	o.buf = append(inner.buf, '}')
}

// appendBody writes "data", the body as text (or a base64 data URL when it is not UTF-8, as
// httpbin does), and "json", the body re-encoded compactly when it parses as JSON, else null.
func appendBody(o *jsonObject, body []byte) {
	text := utf8.Valid(body)
	if text {
		o.str("data", string(body))
	} else {
		o.key("data")
		o.buf = append(o.buf, `"data:application/octet-stream;base64,`...)
		o.buf = base64.StdEncoding.AppendEncode(o.buf, body)
		o.buf = append(o.buf, '"')
	}

	o.key("json")
	mark := len(o.buf)
	// The JSON scanner does not check UTF-8 inside strings, so only text may be copied through.
	if text && len(body) > 0 {
		out := bytes.NewBuffer(o.buf)
		if err := json.Compact(out, body); err == nil {
			o.buf = out.Bytes()
			return
		}
	}
	o.buf = append(o.buf[:mark], "null"...)
}

// readBody appends r to dst until EOF, failing once more than limit bytes have arrived.
func readBody(dst []byte, r io.Reader, limit int) ([]byte, error) {
	if r == nil || r == http.NoBody {
		return dst, nil
	}
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if len(dst) > limit {
			return dst, errBodyTooLarge
		}
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}
