package lessons_test

// TestProbeSizes measures, by simulation, how reliable each traffic
// probe of lessons 1, 2, 5, 6, 7, 9, 10, 11, 14 and a2 is at the size
// the lesson gives it: the chance that a lab in the right state fails
// the probe, and the chance that each named wrong lab passes it. Samples are drawn from a model of
// the lab's behaviour (the failure versions of ratings, faults, timeouts,
// retries, circuit breakers) and judged by the check's own plan and
// judge (checks.ProbePlan, traffic.Judge), so a probe made smaller than
// it needs, or an expectation made looser, fails this test. The figures
// it logs (go test -run ProbeSizes -v) are the ones in
// testdata/5/README.md, testdata/9/README.md, testdata/10/README.md,
// testdata/11/README.md and testdata/a2/README.md.

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/meshdojo/meshdojo/checks/catalogue"
	"github.com/meshdojo/meshdojo/internal/traffic"
	"github.com/meshdojo/meshdojo/lessons"
)

// lab draws the outcome of each of n requests, in the order the proxy
// that decides sees them complete.
type lab func(r *rand.Rand, n int) []traffic.Sample

// answer is one request's status and how long it took.
func answer(status int, lat time.Duration) traffic.Sample {
	return traffic.Sample{Status: status, Latency: lat}
}

// fast is the time an answer takes through the ingress and productpage
// when nothing waits: a few to a few tens of milliseconds.
func fast(r *rand.Rand) time.Duration {
	return 5*time.Millisecond + time.Duration(r.Int64N(int64(45*time.Millisecond)))
}

func always(status int) lab {
	return func(r *rand.Rand, n int) []traffic.Sample {
		out := make([]traffic.Sample, n)
		for i := range out {
			out[i] = answer(status, fast(r))
		}
		return out
	}
}

// fault is a VirtualService fault: an abort with status after delay (0:
// none) on share of the calls; the others answer 200.
func fault(status int, delay time.Duration, share float64) lab {
	return func(r *rand.Rand, n int) []traffic.Sample {
		out := make([]traffic.Sample, n)
		for i := range out {
			if r.Float64() < share {
				out[i] = answer(status, delay+fast(r))
			} else {
				out[i] = answer(200, fast(r))
			}
		}
		return out
	}
}

// delayed is ratings-v-delayed-50percent-delayof7s behind a route
// timeout (0: none) and a connection pool that turns a request away with
// probability overflow.
func delayed(timeout time.Duration, overflow float64) lab {
	return func(r *rand.Rand, n int) []traffic.Sample {
		out := make([]traffic.Sample, n)
		for i := range out {
			switch {
			case r.Float64() < overflow:
				out[i] = answer(503, fast(r))
			case r.Float64() >= 0.5: // Math.random() <= 0.5 delays
				out[i] = answer(200, fast(r))
			case timeout > 0 && timeout < 7*time.Second:
				out[i] = answer(504, timeout+fast(r))
			default:
				out[i] = answer(200, 7*time.Second+fast(r))
			}
		}
		return out
	}
}

// faulty is a version that fails half of its calls with status, behind
// a route that tries each call tries times in all.
func faulty(status, tries int) lab {
	return func(r *rand.Rand, n int) []traffic.Sample {
		out := make([]traffic.Sample, n)
		for i := range out {
			out[i] = answer(200, fast(r))
			failed := true
			for t := 0; t < tries && failed; t++ {
				failed = r.Float64() < 0.5
			}
			if failed {
				out[i] = answer(status, fast(r))
			}
		}
		return out
	}
}

// ejecting is ratings-v-50percent-internal-server-error-500 behind
// outlier detection that ejects its only endpoint after k consecutive
// 5xx (0: no outlier detection); once ejected, every call gets 503 no
// healthy upstream for the rest of the probe (the ejection lasts 3 to 4
// minutes).
func ejecting(k int) lab {
	return func(r *rand.Rand, n int) []traffic.Sample {
		out := make([]traffic.Sample, n)
		run, ejected := 0, false
		for i := range out {
			switch {
			case ejected:
				out[i] = answer(503, fast(r))
			case r.Float64() < 0.5:
				out[i] = answer(500, fast(r))
				run++
				ejected = k > 0 && run >= k
			default:
				out[i] = answer(200, fast(r))
				run = 0
			}
		}
		return out
	}
}

// probe is what the simulation knows about one traffic check of a
// lesson: the lab in the state the step asks for, and the wrong labs it
// must tell apart.
type probe struct {
	lesson, title string
	right         lab
	wrong         map[string]lab
	// mayPass names a wrong lab the probe is allowed to pass (the step's
	// other checks hold the gate there); its figure is still reported.
	mayPass string
}

// overflowFloor is the smallest chance per request, in a burst of 64,
// that the pool of 3 pending requests turns a request away, which the
// pool step's probe is sized for. It is an assumption, not a
// measurement: see testdata/10/README.md.
const overflowFloor = 0.05

// The chapter 7 lab's product page, as the lab's productpage renders it
// in each state (only the parts the probes look for).
const (
	pageAll       = "<h4>Book Details</h4>...<div>Reviews served by: reviews-v4-8d7c6b5a4-t2n6v</div>"
	pageNoToken   = "<p><strong>403</strong>: Please sign in to view product details.</p>...<p><strong>403</strong>: Please sign in to view product reviews.</p>"
	pageNoReviews = "<h4>Book Details</h4>...<p><strong>403</strong>: Please sign in to view product reviews.</p>"
)

// page answers every request with status and body.
func page(status int, body string) lab {
	return func(r *rand.Rand, n int) []traffic.Sample {
		out := make([]traffic.Sample, n)
		for i := range out {
			out[i] = traffic.Sample{Status: status, Latency: fast(r), Body: body}
		}
		return out
	}
}

var probes = []probe{
	// Lesson 7. Authorization is decided per request by rules, not by
	// chance: in a settled lab every answer of a state is the same, so
	// the sizes are what it takes to see that, and the wrong labs are
	// the states a reader gets by skipping or mistyping a step.
	{lesson: "7", title: "the whole page answers through the gateway", right: page(200, pageAll),
		wrong: map[string]lab{"no route at the gateway": page(404, "not found"), "reviews refused": page(200, pageNoReviews)}},
	{lesson: "7", title: "productpage refuses its JSON API by path (403)", right: page(403, "RBAC: access denied"),
		wrong: map[string]lab{"no productpage policy": page(200, `{"publisher":"Dover Publications"}`)}},
	{lesson: "7", title: "without a token the page renders, and details is refused (403)", right: page(200, pageNoToken),
		wrong: map[string]lab{"no policy on details": page(200, pageAll), "details refused by 401 (a bad token)": page(302, "")}},
	{lesson: "7", title: "without a token reviews is refused (403)", right: page(200, pageNoToken),
		wrong: map[string]lab{"no policy on reviews": page(200, pageAll)}},
	{lesson: "7", title: "a token that does not verify gets 401, and productpage signs you out (302)", right: page(302, ""),
		wrong: map[string]lab{"no RequestAuthentication": page(200, pageNoToken)}},
	{lesson: "7", title: "with izzy's token, reviews answers", right: page(200, pageAll),
		wrong: map[string]lab{"token of another issuer (401, sign-out)": page(302, ""), "no token": page(200, pageNoToken)}},
	{lesson: "7", title: "with izzy's token, details no longer asks to sign in", right: page(200, pageAll),
		wrong: map[string]lab{"token of another issuer (401, sign-out)": page(302, ""), "no token": page(200, pageNoToken)}},

	// Lessons 1, 2 and 6. Each state answers every request the same way
	// (a route is bound or not, a policy accepts the call or not), so the
	// default ten requests tell them apart; the wrong labs are the state
	// the reader arrives in and the lab's traps.
	{lesson: "1", title: "the product page loads through NGINX", right: always(200),
		wrong: map[string]lab{"no HTTPRoute yet (arrival: NGINX answers 404)": always(404),
			"the lab's helmfile replaced the application (no backend)": always(500)}},
	{lesson: "1", title: "ratings answer from MySQL", right: always(200),
		wrong: map[string]lab{"no HTTPRoute yet (arrival)": always(404), "MySQL unreachable (500 through productpage)": always(500)}},
	{lesson: "2", title: "the product page loads through the ingress gateway", right: always(200),
		wrong: map[string]lab{"no VirtualService bound to the Gateway (arrival: 404)": always(404)}},
	{lesson: "2", title: "every reviews answer comes from reviews-v4", right: versions(map[string]float64{"v4": 1}),
		wrong: map[string]lab{"no VirtualService bound to the Gateway (arrival: 404)": always(404)}},
	{lesson: "2", title: "ratings answer with data from MySQL", right: always(200),
		wrong: map[string]lab{"no VirtualService bound to the Gateway (arrival: 404)": always(404),
			"MySQL unreachable (500 through productpage)": always(500)}},
	{lesson: "6", title: "productpage can no longer reach ratings", right: always(503),
		wrong: map[string]lab{"automatic mTLS still (arrival)": always(200),
			"the chart's other switch, SIMPLE (refused by STRICT too)": always(503)},
		mayPass: "the chart's other switch, SIMPLE (refused by STRICT too)"},
	{lesson: "6", title: "productpage reaches ratings in plain text", right: always(200),
		wrong: map[string]lab{"bookinfo still STRICT (arrival)": always(503)}},
	{lesson: "6", title: "productpage reaches ratings over mTLS", right: always(200),
		wrong: map[string]lab{"PERMISSIVE with plain text (arrival)": always(200),
			"STRICT with the DestinationRule still DISABLE": always(503)},
		mayPass: "PERMISSIVE with plain text (arrival)"},

	// Lesson 5. A route's weights are shares, so each phase of the
	// release is a split the sample must match within its Wilson
	// interval; the wrong labs are the phase the reader arrives from,
	// the phases either side, the weights the wrong way round, the lab's
	// own phased-release chart (a third each to v1, v2 and v4) and a
	// route left without one of its destinations.
	{lesson: "5", title: "all sampled reviews answers come from v4", right: versions(map[string]float64{"v4": 1}),
		wrong: map[string]lab{"no route (the Service balances v1, v2, v4)": versions(map[string]float64{"v1": 1, "v2": 1, "v4": 1})}},
	{lesson: "5", title: "ratings answer with data from MySQL", right: page(200, ratingsMySQL),
		wrong: map[string]lab{"MySQL unreachable (500 through productpage)": page(500, ratingsDown)}},
	{lesson: "5", title: "reviews traffic still goes only to v4", right: versions(map[string]float64{"v4": 1}),
		wrong: map[string]lab{"no route (the Service balances v1, v2, v4)": versions(map[string]float64{"v1": 1, "v2": 1, "v4": 1}),
			"the lab's phased-release chart (a third each)": versions(map[string]float64{"v1": 1, "v2": 1, "v4": 1})}},
	{lesson: "5", title: "about one answer in ten comes from v4", right: versions(map[string]float64{"v1": 90, "v4": 10}),
		wrong: map[string]lab{"everything to v4 (arrival)": versions(map[string]float64{"v4": 1}),
			"weights the wrong way round (v1 10, v4 90)": versions(map[string]float64{"v1": 10, "v4": 90}),
			"half to each":          versions(map[string]float64{"v1": 1, "v4": 1}),
			"v4 left out (v1 only)": versions(map[string]float64{"v1": 1}),
			"the lab's phased-release chart (a third each)": versions(map[string]float64{"v1": 1, "v2": 1, "v4": 1}),
			"a canary of a fifth (v1 80, v4 20)":            versions(map[string]float64{"v1": 80, "v4": 20})},
		mayPass: "a canary of a fifth (v1 80, v4 20)"},
	{lesson: "5", title: "about half of the answers come from v4", right: versions(map[string]float64{"v1": 1, "v4": 1}),
		wrong: map[string]lab{"the canary (v1 90, v4 10; arrival)": versions(map[string]float64{"v1": 90, "v4": 10}),
			"everything to v4":                              versions(map[string]float64{"v4": 1}),
			"v4 left out (v1 only)":                         versions(map[string]float64{"v1": 1}),
			"the lab's phased-release chart (a third each)": versions(map[string]float64{"v1": 1, "v2": 1, "v4": 1}),
			"a third to v4 (v1 2, v4 1)":                    versions(map[string]float64{"v1": 2, "v4": 1})},
		mayPass: "a third to v4 (v1 2, v4 1)"},
	{lesson: "5", title: "every sampled answer comes from v4 again", right: versions(map[string]float64{"v4": 1}),
		wrong: map[string]lab{"half to each (arrival)": versions(map[string]float64{"v1": 1, "v4": 1}),
			"the canary left (v1 90, v4 10)": versions(map[string]float64{"v1": 90, "v4": 10}),
			"v1 left a tenth (v1 10, v4 90)": versions(map[string]float64{"v1": 10, "v4": 90})}},
	{lesson: "5", title: "callers get v1's answers only", right: page(200, detailsV1),
		wrong: map[string]lab{"details-v3 answers (no mirror chart; arrival)": page(200, detailsV3),
			"details-v3 answers, Google unreachable": page(500, detailsDown),
			"half to each of v1 and v3":              mixed(page(200, detailsV1), page(200, detailsV3), 0.5),
			"v3 left a tenth":                        mixed(page(200, detailsV1), page(200, detailsV3), 0.9)}},

	// Lesson 9.
	{lesson: "9", title: "ratings answers 200 through productpage", right: always(200),
		wrong: map[string]lab{"a 500 abort left on the route": always(500), "an abort on half the calls": fault(500, 0, 0.5)}},
	{lesson: "9", title: "every ratings answer is 500", right: always(500),
		wrong: map[string]lab{"no fault": always(200), "abort on half the calls": fault(500, 0, 0.5), "abort with 503": always(503)}},
	{lesson: "9", title: "every reviews answer is 500", right: always(500),
		wrong: map[string]lab{"no fault": always(200), "abort on half the calls": fault(500, 0, 0.5)}},
	{lesson: "9", title: "the product page answers 200", right: always(200),
		wrong: map[string]lab{"productpage failing": always(500)}},
	{lesson: "9", title: "the product page still answers 200, after waiting about 7s", right: fault(200, 7*time.Second, 1),
		wrong: map[string]lab{"the 503 abort (arrival)": always(200), "productpage failing": always(500),
			"the 504 abort without delay": always(200)}},
	{lesson: "9", title: "every ratings answer is 503", right: always(503),
		wrong: map[string]lab{"abort with 500": always(500), "abort on half the calls": fault(503, 0, 0.5)}},
	{lesson: "9", title: "the product page still answers 200, with productpage's error where the reviews were", right: always(200),
		wrong: map[string]lab{"productpage failing": always(500)}},
	{lesson: "9", title: "the product page still answers 200, with reviews' note where the stars were", right: always(200),
		wrong: map[string]lab{"productpage failing": always(500)}},
	{lesson: "9", title: "every reviews answer is 503, with the fallback note", right: always(503),
		wrong: map[string]lab{"abort with 500": always(500)}},
	{lesson: "9", title: "every ratings answer is a 504 after about 7s", right: fault(504, 7*time.Second, 1),
		wrong: map[string]lab{"abort 504 without delay": always(504), "delay 7s without abort": fault(200, 7*time.Second, 1),
			"abort with 503": always(503), "delay and abort on half the calls": fault(504, 7*time.Second, 0.5)}},
	{lesson: "9", title: "ratings answers 200 again, without delay", right: always(200),
		wrong: map[string]lab{"the delay and 504 still on": fault(504, 7*time.Second, 1), "delay 7s without abort": fault(200, 7*time.Second, 1)}},

	// Lesson 10.
	{lesson: "10", title: "about half of the ratings calls take 7s, all answer 200", right: delayed(0, 0),
		wrong: map[string]lab{"chapter 9 lab (ratings-v3)": always(200), "timeout 5s": delayed(5*time.Second, 0),
			"503 version, no retries": faulty(503, 1)}},
	{lesson: "10", title: "slow calls turn into 504 after about 5s", right: delayed(5*time.Second, 0),
		wrong: map[string]lab{"no timeout": delayed(0, 0), "timeout 10s": delayed(10*time.Second, 0)}},
	{lesson: "10", title: "about half of the answers are still 503", right: faulty(503, 1),
		wrong: map[string]lab{"retries with 5xx": faulty(503, 4), "timeout step (delayed version, 5s)": delayed(5*time.Second, 0)}},
	{lesson: "10", title: "at most a fifth of the answers fail", right: faulty(503, 4),
		wrong: map[string]lab{"retries without 5xx": faulty(503, 1)}},
	{lesson: "10", title: "a concurrent burst gets some 503s", right: delayed(0, overflowFloor),
		wrong:   map[string]lab{"pool of 100": delayed(0, 0), "no pool": delayed(0, 0), "retries with 5xx (arrival)": faulty(503, 4)},
		mayPass: "retries with 5xx (arrival)"},
	// Lesson 14: each fault's probe is a guard that proves the fix; the
	// wrong labs are the fault itself and the wrong fixes of the step.
	{lesson: "14", title: "ratings answers through productpage again", right: always(200),
		wrong: map[string]lab{"subset without pods (503 UH)": always(503), "TLS off against STRICT (503 UC)": always(503)}},
	{lesson: "14", title: "every call through productpage works", right: always(200),
		wrong: map[string]lab{"one of two productpage pods without a sidecar": fault(503, 0, 0.5),
			"one of three productpage pods without a sidecar": fault(503, 0, 1.0/3)}},
	{lesson: "14", title: "productpage reaches ratings", right: always(200),
		wrong: map[string]lab{"ratings restarting, not ready": always(503)}},
	{lesson: "14", title: "the product page answers through the gateway again", right: always(200),
		wrong: map[string]lab{"route host matches nothing (404 NR)": always(404), "Gateway selects no pod (refused)": always(0)}},
	{lesson: "14", title: "productpage's ratings call is allowed again", right: always(200),
		wrong: map[string]lab{"only reviews allowed (403)": always(403)}},

	{lesson: "10", title: "once ratings is ejected, calls get 503", right: ejecting(5),
		wrong: map[string]lab{"no outlier detection": ejecting(0), "pool of 3 on the delayed version (arrival)": delayed(0, 0)}},
	{lesson: "11", title: "reviews answers through the ingress gateway", right: always(200),
		wrong: map[string]lab{"no ingress gateway or route (arrival)": unanswered("refused")}},
	{lesson: "11", title: "every reviews answer comes from v4", right: versions(map[string]float64{"v4": 1}),
		wrong: map[string]lab{"no route, or no waypoint to apply it (ztunnel balances over v1, v2, v4)": versions(map[string]float64{"v1": 1, "v2": 1, "v4": 1}),
			"v2 left half the share": versions(map[string]float64{"v2": 1, "v4": 1}), "v1 left a tenth": versions(map[string]float64{"v1": 1, "v4": 9})}},
	{lesson: "a2", title: "productpage answers through the Gateway API gateway", right: always(200),
		wrong: map[string]lab{"no route attached to the Gateway (arrival)": unanswered("refused"), "productpage failing": always(503)}},
}

// The chapter 5 lab's JSON answers through productpage's API, as
// productpage.py passes them on (only the fields the probes record).
const (
	ratingsMySQL = `{"id": 0, "ratings": {"Reviewer1": 5, "Reviewer2": 4}}`
	ratingsDown  = `{"error": "Sorry, product ratings are currently unavailable."}`
	detailsV1    = `{"id": 0, "publisher": "PublisherA", "type": "paperback"}`
	detailsV3    = `{"id": 0, "publisher": "Dover Publications", "type": "paperback"}`
	detailsDown  = `{"error": "Sorry, product details are currently unavailable."}`
)

// mixed answers each request from a with probability share, else from b.
func mixed(a, b lab, share float64) lab {
	return func(r *rand.Rand, n int) []traffic.Sample {
		out := make([]traffic.Sample, n)
		for i := range out {
			if r.Float64() < share {
				out[i] = a(r, 1)[0]
			} else {
				out[i] = b(r, 1)[0]
			}
		}
		return out
	}
}

// versions is reviews answering 200 from each version with the given
// relative weights, as a route (or ztunnel's balancing) spreads them.
func versions(w map[string]float64) lab {
	var names []string
	total := 0.0
	for v, x := range w {
		names = append(names, v)
		total += x
	}
	sort.Strings(names)
	return func(r *rand.Rand, n int) []traffic.Sample {
		out := make([]traffic.Sample, n)
		for i := range out {
			x := r.Float64() * total
			v := names[len(names)-1]
			for _, name := range names {
				if x < w[name] {
					v = name
					break
				}
				x -= w[name]
			}
			out[i] = traffic.Sample{Status: 200, Latency: fast(r), Version: v, Pod: "reviews-" + v + "-5c4b3a2f1-vwxyz"}
		}
		return out
	}
}

// unanswered is an ingress that answers nothing: err is the transport
// error every request gets.
func unanswered(err string) lab {
	return func(r *rand.Rand, n int) []traffic.Sample {
		out := make([]traffic.Sample, n)
		for i := range out {
			out[i] = traffic.Sample{Err: err, Latency: fast(r)}
		}
		return out
	}
}

// trials per lab: with a fixed seed the test is deterministic, and 4000
// trials put a rate near 1% within about ±0.3% of the truth (two
// standard errors).
const trials = 4000

func TestProbeSizes(t *testing.T) {
	all, err := lessons.Load()
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, id := range []string{"1", "2", "5", "6", "7", "9", "10", "11", "14", "a2"} {
		l, ok := lessons.Find(all, id)
		if !ok {
			t.Fatalf("lesson %s is missing", id)
		}
		for i := range l.Steps {
			for _, ref := range l.Steps[i].Checks {
				if ref.Name != "http-probe" {
					continue
				}
				pr, ok := findProbe(id, ref.Title)
				if !ok {
					t.Errorf("lesson %s step %d: probe %q has no model here; add one, with the wrong labs it must tell apart", id, i+1, ref.Title)
					continue
				}
				found[id+"/"+ref.Title] = true
				c, _ := catalogue.Lookup("http-probe")
				p, err := c.Validate(ref.Params)
				if err != nil {
					t.Fatalf("lesson %s step %d: %v", id, i+1, err)
				}
				plan, exp, err := catalogue.ProbePlan(p)
				if err != nil {
					t.Fatalf("lesson %s step %d: %v", id, i+1, err)
				}
				// The models of 9 and 10 draw statuses and latencies, not bodies: what
				// a body holds does not vary from call to call in a state,
				// so body-contains is left to the simulated lab's tests
				// (internal/traffic/fakelab) and the walk.
				if id != "7" {
					exp.BodyContains, exp.BodyLacks = "", ""
				}
				measure(t, fmt.Sprintf("lesson %s step %d %q", id, i+1, ref.Title), pr, plan, exp)
			}
		}
	}
	for _, pr := range probes {
		if !found[pr.lesson+"/"+pr.title] {
			t.Errorf("lesson %s has no probe titled %q any more; update the model list", pr.lesson, pr.title)
		}
	}
}

func findProbe(lesson, title string) (probe, bool) {
	for _, p := range probes {
		if p.lesson == lesson && p.title == title {
			return p, true
		}
	}
	return probe{}, false
}

func measure(t *testing.T, name string, pr probe, plan traffic.Plan, exp traffic.Expect) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, uint64(len(name))))
	rate, worst := passRate(rng, pr.right, plan, exp)
	t.Logf("%s: %d requests, %d at once; right lab fails %.2f%%, slowest probe %s", name, plan.Count, plan.Concurrency,
		100*(1-rate), worst.Round(100*time.Millisecond))
	if 1-rate >= 0.01 {
		t.Errorf("%s: a lab in the right state fails %.2f%% of the time (want under 1%%): raise count or loosen the expectation", name, 100*(1-rate))
	}
	if worst > time.Minute {
		t.Errorf("%s: the probe can take %s on the lab (want under a minute): raise concurrency or lower count", name, worst.Round(time.Second))
	}
	var names []string
	for n := range pr.wrong {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		rate, _ := passRate(rng, pr.wrong[n], plan, exp)
		t.Logf("%s: wrong lab %q passes %.2f%%", name, n, 100*rate)
		if rate >= 0.01 && n != pr.mayPass {
			t.Errorf("%s: wrong lab %q passes %.2f%% of the time (want under 1%%)", name, n, 100*rate)
		}
	}
}

// passRate runs the probe trials times against a lab and returns the
// share that passed, and the longest a probe took.
func passRate(rng *rand.Rand, l lab, plan traffic.Plan, exp traffic.Expect) (float64, time.Duration) {
	pass := 0
	var worst time.Duration
	for range trials {
		samples := record(l(rng, plan.Count), plan)
		kept, took := schedule(samples, plan)
		worst = max(worst, took)
		rep := &traffic.Report{Plan: plan, Samples: kept, Elapsed: took}
		if len(kept) < plan.Count {
			rep.Stopped = "deadline"
		}
		ok := true
		for _, f := range traffic.Judge(rep, exp) {
			ok = ok && f.OK
		}
		if ok {
			pass++
		}
	}
	return float64(pass) / trials, worst
}

// record fills each sample's Fields from its JSON body, as the probe
// records the fields a body-field expectation names.
func record(samples []traffic.Sample, plan traffic.Plan) []traffic.Sample {
	if len(plan.Fields) == 0 {
		return samples
	}
	for i, s := range samples {
		var doc any
		dec := json.NewDecoder(strings.NewReader(s.Body))
		dec.UseNumber()
		if dec.Decode(&doc) != nil {
			continue
		}
		for _, f := range plan.Fields {
			if v, ok := traffic.Field(doc, f); ok {
				if samples[i].Fields == nil {
					samples[i].Fields = map[string]string{}
				}
				samples[i].Fields[f] = v
			}
		}
	}
	return samples
}

// schedule runs the samples through plan.Concurrency workers the way
// traffic.Run does (each worker takes the next request when its last one
// is answered) and keeps those answered before the plan's deadline. A
// request the client's own timeout cuts is counted as a transport
// timeout.
func schedule(samples []traffic.Sample, plan traffic.Plan) ([]traffic.Sample, time.Duration) {
	free := make([]time.Duration, plan.Concurrency)
	var kept []traffic.Sample
	var end time.Duration
	for _, s := range samples {
		w := 0
		for i := range free {
			if free[i] < free[w] {
				w = i
			}
		}
		if plan.Timeout > 0 && s.Latency > plan.Timeout {
			s = traffic.Sample{Err: "timeout", Latency: plan.Timeout}
		}
		done := free[w] + s.Latency
		free[w] = done
		if plan.Deadline > 0 && done > plan.Deadline {
			continue
		}
		kept = append(kept, s)
		end = max(end, done)
	}
	return kept, end
}

// TestProbeModels keeps the models honest: each one behaves as its
// comment says on a large sample.
func TestProbeModels(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	share := func(l lab, want string) float64 {
		n := 0
		s := l(rng, 100000)
		for _, x := range s {
			if strings.Contains(want, "slow") && x.Latency >= 6500*time.Millisecond || x.Outcome() == want {
				n++
			}
		}
		return float64(n) / float64(len(s))
	}
	for _, c := range []struct {
		name   string
		got    float64
		lo, hi float64
	}{
		{"delayed: half slow", share(delayed(0, 0), "slow"), 0.49, 0.51},
		{"delayed with 5s timeout: half 504", share(delayed(5*time.Second, 0), "504"), 0.49, 0.51},
		{"delayed with 10s timeout: none 504", share(delayed(10*time.Second, 0), "504"), 0, 0},
		{"faulty, one try: half 503", share(faulty(503, 1), "503"), 0.49, 0.51},
		{"faulty, four tries: 1/16 503", share(faulty(503, 4), "503"), 0.058, 0.067},
		{"no outlier detection: no 503", share(ejecting(0), "503"), 0, 0},
		{"outlier detection: ejected early on", share(ejecting(5), "503"), 0.99, 1},
	} {
		if c.got < c.lo || c.got > c.hi {
			t.Errorf("%s: %.4f, want %.3f to %.3f", c.name, c.got, c.lo, c.hi)
		}
	}
}
