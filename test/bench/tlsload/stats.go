package main

import (
	"math"
	"slices"
	"time"
)

// percentile is the nearest-rank p-th percentile of ds (0 < p <= 100); it sorts ds in place.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	rank := int(math.Ceil(p * float64(len(ds)) / 100))
	return ds[min(max(rank, 1), len(ds))-1]
}
