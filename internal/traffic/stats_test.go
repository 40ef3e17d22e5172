package traffic

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestWilsonKnownValues(t *testing.T) {
	// 80 of 100 at 99%: 0.680 to 0.883 (reference values worked out by
	// hand from the closed form with z = 2.5758).
	iv := Wilson(80, 100, 0.99)
	if math.Abs(iv.Lo-0.6798) > 0.001 || math.Abs(iv.Hi-0.8829) > 0.001 {
		t.Fatalf("Wilson(80,100,.99) = %+v", iv)
	}
	// The edges stay honest: nothing seen still allows a small share,
	// everything seen still allows 100%.
	if iv := Wilson(0, 30, 0.99); iv.Lo != 0 || iv.Hi < 0.15 || iv.Hi > 0.25 {
		t.Fatalf("Wilson(0,30) = %+v", iv)
	}
	if iv := Wilson(30, 30, 0.99); iv.Hi != 1 || iv.Lo > 0.85 {
		t.Fatalf("Wilson(30,30) = %+v", iv)
	}
	if iv := Wilson(0, 0, 0.99); iv.Lo != 0 || iv.Hi != 1 {
		t.Fatalf("Wilson(0,0) = %+v", iv)
	}
}

func TestJudgeSplitEdges(t *testing.T) {
	cases := []struct {
		name    string
		seen    map[string]int
		weights map[string]int
		want    bool
	}{
		{"all v4 as routed", map[string]int{"v4": 30}, map[string]int{"v1": 0, "v2": 0, "v4": 100}, true},
		{"one stray v1 out of 100", map[string]int{"v4": 99, "v1": 1}, map[string]int{"v1": 0, "v4": 100}, false},
		{"unlisted version answers", map[string]int{"v4": 29, "v3": 1}, map[string]int{"v4": 100}, false},
		{"80/20 exactly", map[string]int{"v1": 80, "v2": 20}, map[string]int{"v1": 80, "v2": 20}, true},
		{"50/50 against 80/20", map[string]int{"v1": 50, "v2": 50}, map[string]int{"v1": 80, "v2": 20}, false},
		{"relative weights 33/33/33", map[string]int{"v1": 22, "v2": 18, "v4": 20}, map[string]int{"v1": 33, "v2": 33, "v4": 33}, true},
		{"a version that never answered", map[string]int{"v1": 30, "v2": 30}, map[string]int{"v1": 33, "v2": 33, "v4": 33}, false},
		{"no responses", map[string]int{}, map[string]int{"v4": 100}, false},
		{"all weights zero", map[string]int{"v4": 10}, map[string]int{"v4": 0}, false},
		// At 99% the interval around 70 of 100 reaches up to 0.8026, so
		// 80% still fits; around 69 of 100 it stops at 0.7942.
		{"edge: 70 of 100 for 80%", map[string]int{"v1": 70, "v2": 30}, map[string]int{"v1": 80, "v2": 20}, true},
		{"edge: 69 of 100 for 80%", map[string]int{"v1": 69, "v2": 31}, map[string]int{"v1": 80, "v2": 20}, false},
		{"edge: 90 of 100 for 80%", map[string]int{"v1": 90, "v2": 10}, map[string]int{"v1": 80, "v2": 20}, true},
		{"edge: 91 of 100 for 80%", map[string]int{"v1": 91, "v2": 9}, map[string]int{"v1": 80, "v2": 20}, false},
	}
	for _, c := range cases {
		ok, shares := JudgeSplit(c.seen, c.weights, 0.99)
		if ok != c.want {
			t.Errorf("%s: got %v want %v (%+v)", c.name, ok, c.want, shares)
		}
	}
}

// TestSplitErrorRates simulates many probes and measures how often the
// split assertion is wrong: a false fail when traffic really follows
// the expected split, a false pass when it follows a different one. The
// draws are seeded, so the rates are the same on every run.
func TestSplitErrorRates(t *testing.T) {
	const runs = 20000
	for _, c := range splitScenarios {
		ff, fp := splitRates(c, runs, 1)
		t.Logf("%-34s n=%3d  false-fail %.2f%%  false-pass %.2f%%", c.name, c.n, 100*ff, 100*fp)
		// Wilson's coverage at 99% is close to nominal and the split
		// widens intervals for three or more versions, so a correct
		// split fails about 1% of the time whatever the number of
		// versions; 20000 seeded runs put the estimate within ±0.2%.
		if ff > c.maxFalseFail {
			t.Errorf("%s: false-fail rate %.2f%% above %.1f%%", c.name, 100*ff, 100*c.maxFalseFail)
		}
		if fp > c.maxFalsePass {
			t.Errorf("%s: false-pass rate %.2f%% above %.1f%%", c.name, 100*fp, 100*c.maxFalsePass)
		}
	}
}

type splitScenario struct {
	name                       string
	n                          int
	expect, wrong              map[string]int
	maxFalseFail, maxFalsePass float64
}

var splitScenarios = []splitScenario{
	{"80/20 vs actual 50/50", 100, map[string]int{"v1": 80, "v2": 20}, map[string]int{"v1": 50, "v2": 50}, 0.02, 0.001},
	{"80/20 vs actual 70/30", 100, map[string]int{"v1": 80, "v2": 20}, map[string]int{"v1": 70, "v2": 30}, 0.02, 0.60},
	{"100% v4 vs 90/10", 30, map[string]int{"v4": 100}, map[string]int{"v4": 90, "v1": 10}, 0.001, 0.05},
	{"100% v4 vs 33/33/33", 30, map[string]int{"v4": 100}, map[string]int{"v1": 33, "v2": 33, "v4": 33}, 0.001, 0.001},
	{"33/33/33 vs 100% v4", 60, map[string]int{"v1": 33, "v2": 33, "v4": 33}, map[string]int{"v4": 100}, 0.02, 0.001},
	{"33/33/33 vs 50/50/0", 60, map[string]int{"v1": 33, "v2": 33, "v4": 33}, map[string]int{"v1": 50, "v2": 50}, 0.02, 0.001},
}

// splitRates returns the false-fail and false-pass rates of the split
// assertion for one scenario.
func splitRates(c splitScenario, runs int, seed uint64) (falseFail, falsePass float64) {
	rng := rand.New(rand.NewPCG(seed, 42))
	ffails, fpasses := 0, 0
	for i := 0; i < runs; i++ {
		if ok, _ := JudgeSplit(draw(rng, c.expect, c.n), c.expect, 0.99); !ok {
			ffails++
		}
		if ok, _ := JudgeSplit(draw(rng, c.wrong, c.n), c.expect, 0.99); ok {
			fpasses++
		}
	}
	return float64(ffails) / float64(runs), float64(fpasses) / float64(runs)
}

// draw simulates n responses routed by weights.
func draw(rng *rand.Rand, weights map[string]int, n int) map[string]int {
	names := Keys(weights)
	total := 0
	for _, k := range names {
		total += weights[k]
	}
	out := map[string]int{}
	for i := 0; i < n; i++ {
		x := rng.IntN(total)
		for _, k := range names {
			if x < weights[k] {
				out[k]++
				break
			}
			x -= weights[k]
		}
	}
	return out
}

// BenchmarkSplitErrorRates reports the simulated error rates as metrics,
// for the closing note's figures.
func BenchmarkSplitErrorRates(b *testing.B) {
	for _, c := range splitScenarios {
		b.Run(c.name, func(b *testing.B) {
			var ff, fp float64
			for i := 0; i < b.N; i++ {
				ff, fp = splitRates(c, 2000, uint64(i)+1)
			}
			b.ReportMetric(100*ff, "%false-fail")
			b.ReportMetric(100*fp, "%false-pass")
		})
	}
}

func TestVersionOf(t *testing.T) {
	cases := map[string]string{
		"reviews-v4-6d8c9b7f5-x2klp":                           "v4",
		"reviews-v1-abc-def":                                   "v1",
		"ratings-v-faulty-50percent-503-7c9d8b6f4-abcde":       "v-faulty-50percent-503",
		"ratings-v-delayed-50percent-delayof7s-7c9d8b6f4-q1w2": "v-delayed-50percent-delayof7s",
		"productpage-v2-7f9c-abcde":                            "v2",
		"some-pod":                                             "some-pod",
		"web-12345-abcde":                                      "web",
		"":                                                     "",
	}
	for in, want := range cases {
		if got := VersionOf(in); got != want {
			t.Errorf("VersionOf(%q) = %q, want %q", in, got, want)
		}
	}
}
