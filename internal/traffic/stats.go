package traffic

import (
	"fmt"
	"math"
	"sort"
)

// Interval is a two-sided confidence interval for a proportion.
type Interval struct{ Lo, Hi float64 }

func (iv Interval) Contains(p float64) bool {
	// A little slack so that shares like 1/3 written as 33/99 are not
	// rejected by rounding at the edges.
	const eps = 1e-9
	return p >= iv.Lo-eps && p <= iv.Hi+eps
}

func (iv Interval) String() string {
	return fmt.Sprintf("%.0f%%–%.0f%%", 100*iv.Lo, 100*iv.Hi)
}

// Wilson returns the Wilson score interval for k successes out of n at
// the given two-sided confidence (for example 0.99). It behaves well at
// the edges (k = 0 or k = n, small n), where the textbook normal
// interval collapses to a point and would reject any expected share.
func Wilson(k, n int, confidence float64) Interval {
	if n <= 0 {
		return Interval{0, 1}
	}
	z := zFor(confidence)
	p := float64(k) / float64(n)
	nf := float64(n)
	z2 := z * z
	den := 1 + z2/nf
	center := (p + z2/(2*nf)) / den
	half := z * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf)) / den
	lo, hi := center-half, center+half
	// Exact at the edges: with no successes the lower bound is 0, with
	// all successes the upper bound is 1.
	if k == 0 {
		lo = 0
	}
	if k == n {
		hi = 1
	}
	return Interval{math.Max(0, lo), math.Min(1, hi)}
}

// zFor is the standard normal quantile for a two-sided confidence level.
func zFor(confidence float64) float64 {
	if confidence <= 0 || confidence >= 1 {
		confidence = 0.99
	}
	// Inverse of the normal CDF at 1-(1-c)/2.
	return math.Sqrt2 * math.Erfinv(confidence)
}

// Share is the judgement of one category (a version, a status code) of
// a split: how often it was seen and whether the expected share fits.
type Share struct {
	Name     string
	Seen     int
	Total    int
	Expected float64 // expected share, 0..1
	Interval Interval
	OK       bool
}

func (s Share) Observed() float64 {
	if s.Total == 0 {
		return 0
	}
	return float64(s.Seen) / float64(s.Total)
}

// JudgeSplit compares observed counts per category with expected
// relative weights. Weights need not sum to 100: they are relative, as
// Istio treats VirtualService weights. A category seen but not listed is
// expected at 0. The split passes iff every category's expected share
// lies inside its Wilson interval; confidence (e.g. 0.99) applies to the
// split as a whole.
func JudgeSplit(seen map[string]int, weights map[string]int, confidence float64) (ok bool, shares []Share) {
	total := 0
	for _, n := range seen {
		total += n
	}
	wsum := 0
	for _, w := range weights {
		if w > 0 {
			wsum += w
		}
	}
	names := map[string]bool{}
	for k := range seen {
		names[k] = true
	}
	for k := range weights {
		names[k] = true
	}
	ok = total > 0 && wsum > 0
	// The confidence is for the split as a whole. With m categories there
	// are m-1 free shares (the last follows from the others), so each
	// interval is widened Bonferroni-style to keep the chance of failing
	// a split that really is as expected at 1-confidence or below. With
	// two versions the two intervals are mirror images and nothing
	// changes.
	if m := len(names); m > 2 {
		confidence = 1 - (1-confidence)/float64(m-1)
	}
	for name := range names {
		exp := 0.0
		if w := weights[name]; w > 0 && wsum > 0 {
			exp = float64(w) / float64(wsum)
		}
		iv := Wilson(seen[name], total, confidence)
		s := Share{Name: name, Seen: seen[name], Total: total, Expected: exp, Interval: iv, OK: total > 0 && iv.Contains(exp)}
		ok = ok && s.OK
		shares = append(shares, s)
	}
	sort.Slice(shares, func(i, j int) bool { return naturalLess(shares[i].Name, shares[j].Name) })
	return ok, shares
}

// naturalLess orders "v2" before "v10" and "200" before "503".
func naturalLess(a, b string) bool {
	if len(a) != len(b) {
		// Same prefix letters, different digit counts: shorter first.
		i := 0
		for i < len(a) && i < len(b) && a[i] == b[i] && (a[i] < '0' || a[i] > '9') {
			i++
		}
		da, db := digits(a[i:]), digits(b[i:])
		if da > 0 && db > 0 && da != db {
			return da < db
		}
	}
	return a < b
}

func digits(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}
