package workload

import "time"

// rotateAt is when a certificate received at got is due for rotation: at half its remaining
// lifetime, less jitter (in [0, 1)) times a tenth of it, so a fleet started together does not
// renew in lockstep. The lifetime counts from receipt, not NotBefore, as istio-agent's does: CAs
// backdate NotBefore for clock skew (istiod and ours by a minute), which would otherwise make a
// short-lived certificate due as soon as it arrives.
func rotateAt(got, notAfter time.Time, jitter float64) time.Time {
	life := notAfter.Sub(got)
	return got.Add(life/2 - time.Duration(jitter*float64(life/10)))
}

// renewalSpacing is the least wait after obtaining a certificate, so a CA that hands back one
// already due (a clock ahead of ours, a lifetime of seconds) cannot drive a request loop: a
// tenth of the lifetime, at most minBackoff, never under 100ms.
func renewalSpacing(got, notAfter time.Time, minBackoff time.Duration) time.Duration {
	return max(min(minBackoff, notAfter.Sub(got)/10), 100*time.Millisecond)
}

// backoff is the wait after the n-th consecutive failure (n >= 1): lo doubling per failure,
// never more than hi.
func backoff(n int, lo, hi time.Duration) time.Duration {
	d := lo
	for i := 1; i < n && d < hi; i++ {
		d *= 2
	}
	return max(lo, min(d, hi))
}

// retryWait is the wait before the next attempt after the n-th consecutive failure, and whether
// the certificate in force (expiring at notAfter; zero when there is none) will be expired by
// then. A wait that would outlast the certificate is cut to end lo before it expires, for a last
// attempt while the workload can still prove its identity with it (a renewal authenticates with
// the current certificate).
func retryWait(n int, lo, hi time.Duration, now, notAfter time.Time) (wait time.Duration, expiresFirst bool) {
	wait = backoff(n, lo, hi)
	if notAfter.IsZero() {
		return wait, true
	}
	left := notAfter.Sub(now)
	if wait >= left && left > 2*lo {
		wait = left - lo
	}
	return wait, wait >= left
}
