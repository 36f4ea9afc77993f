package acmecert

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"golang.org/x/crypto/acme"
)

// renewAt is when a certificate is due for renewal: with a third of its lifetime left, as issue
// 8 asks (Let's Encrypt's 90-day certificates renew at day 60, as certbot and Caddy do).
func renewAt(notBefore, notAfter time.Time) time.Time {
	return notAfter.Add(-notAfter.Sub(notBefore) / 3)
}

// orderSpacing is the least time between two orders of one certificate, so a CA that hands back
// a certificate already due cannot drive an order loop: MinBackoff, or a tenth of the lifetime
// for certificates so short-lived that MinBackoff would outlast their renewal window (a test CA's
// 30-second certificates), but never under a second.
func orderSpacing(notBefore, notAfter time.Time, minBackoff time.Duration) time.Duration {
	return max(min(minBackoff, notAfter.Sub(notBefore)/10), time.Second)
}

// backoff is the wait after the n-th consecutive failure (n >= 1): min doubling per failure,
// never more than max.
func backoff(n int, lo, hi time.Duration) time.Duration {
	d := lo
	for i := 1; i < n && d < hi; i++ {
		d *= 2
	}
	return clampDuration(d, lo, hi)
}

func clampDuration(d, lo, hi time.Duration) time.Duration {
	return max(lo, min(d, hi))
}

// retryAfter is the wait a CA asked for with Retry-After on an error response (RFC 8555 §6.6:
// rateLimited), 0 when it asked for none. x/crypto/acme keeps the response headers in
// acme.Error.
func retryAfter(err error, now time.Time) time.Duration {
	var ae *acme.Error
	if !errors.As(err, &ae) || ae.Header == nil {
		return 0
	}
	v := ae.Header.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// failureWait is how long a worker waits after its n-th consecutive failure: the backoff, or
// longer when the CA said so.
func failureWait(n int, err error, now time.Time, lo, hi time.Duration) time.Duration {
	return max(backoff(n, lo, hi), retryAfter(err, now))
}

// clientRetryBackoff is acme.Client.RetryBackoff: x/crypto/acme retries failed requests by
// itself, by default for as long as the context lasts. Here it retries a request at most
// three times, quickly (bad nonces, a CA's passing 5xx), and never when the CA answered 429 or
// named a Retry-After: that error goes up to the worker, whose backoff honours it.
func clientRetryBackoff(n int, _ *http.Request, res *http.Response) time.Duration {
	if n < 1 || n > 3 || res == nil || res.StatusCode == http.StatusTooManyRequests || res.Header.Get("Retry-After") != "" {
		return 0
	}
	return time.Duration(1<<(n-1)) * 250 * time.Millisecond
}
