package workload

import (
	"testing"
	"time"
)

func TestRotateAt(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		life   time.Duration
		jitter float64
		want   time.Duration // after receipt
	}{
		{"no jitter: half the lifetime", 24 * time.Hour, 0, 12 * time.Hour},
		{"half jitter: 5% earlier", 24 * time.Hour, 0.5, 12*time.Hour - 72*time.Minute},
		{"jitter near 1: almost 10% earlier", 10 * time.Second, 0.999, 4*time.Second + 1*time.Millisecond},
		{"short certificates", 2 * time.Second, 0, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := rotateAt(t0, t0.Add(tt.life), tt.jitter).Sub(t0); got != tt.want {
				t.Errorf("rotateAt = receipt+%v, want +%v", got, tt.want)
			}
		})
	}
}

func TestRenewalSpacing(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(0, 0)
	tests := []struct {
		life, minBackoff, want time.Duration
	}{
		{24 * time.Hour, time.Second, time.Second},
		{2 * time.Second, time.Second, 200 * time.Millisecond},
		{100 * time.Millisecond, time.Second, 100 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := renewalSpacing(t0, t0.Add(tt.life), tt.minBackoff); got != tt.want {
			t.Errorf("renewalSpacing(life %v, min %v) = %v, want %v", tt.life, tt.minBackoff, got, tt.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, time.Minute, time.Minute}
	for i, w := range want {
		if got := backoff(i+1, time.Second, time.Minute); got != w {
			t.Errorf("backoff(%d) = %v, want %v", i+1, got, w)
		}
	}
	if got := backoff(1000, time.Second, time.Minute); got != time.Minute {
		t.Errorf("backoff(1000) = %v, want the cap", got)
	}
}

func TestRetryWait(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name         string
		n            int
		notAfter     time.Time
		wait         time.Duration
		expiresFirst bool
	}{
		{"no certificate yet", 1, time.Time{}, time.Second, true},
		{"plenty of time left", 3, now.Add(time.Hour), 4 * time.Second, false},
		{"backoff cut to a last attempt before expiry", 7, now.Add(30 * time.Second), 29 * time.Second, false},
		{"too little left to cut", 7, now.Add(1500 * time.Millisecond), time.Minute, true},
		{"already expired", 2, now.Add(-time.Minute), 2 * time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			wait, first := retryWait(tt.n, time.Second, time.Minute, now, tt.notAfter)
			if wait != tt.wait || first != tt.expiresFirst {
				t.Errorf("retryWait = %v, %v; want %v, %v", wait, first, tt.wait, tt.expiresFirst)
			}
		})
	}
}
