package catalogue

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/meshdojo/meshdojo/checks"
)

// A required parameter given with a bad value is reported once, as a bad
// value: "missing required parameter" beside it would tell the reader the
// opposite of what happened.
func TestValidateBadRequiredValueIsNotMissing(t *testing.T) {
	c, ok := Lookup("route-weights")
	if !ok {
		t.Fatal("route-weights is not registered")
	}
	_, err := c.Validate(map[string]string{"namespace": "a", "name": "b", "weights": "v1=abc"})
	if err == nil {
		t.Fatal("weights=v1=abc accepted")
	}
	if msg := err.Error(); strings.Contains(msg, "missing") || !strings.Contains(msg, `parameter "weights"`) {
		t.Errorf("error = %q, want only the bad weights value", msg)
	}
	// Still reported when really missing.
	_, err = c.Validate(map[string]string{"namespace": "a", "name": "b"})
	if err == nil || !strings.Contains(err.Error(), `missing required parameter "weights"`) {
		t.Errorf("missing weights: %v", err)
	}
	// And a valid value still gets its defaults filled around it.
	if p, err := c.Validate(map[string]string{"namespace": "a", "name": "b", "weights": "v1=100"}); err != nil || p["weights"] != "v1=100" {
		t.Errorf("valid params: %v, %v", p, err)
	}
}

// passes (flap protection) counts consecutive passes: zero or fewer would
// open the gate on nothing, so the lint and `check --run` refuse it.
func TestValidatePassesAtLeastOne(t *testing.T) {
	c, ok := Lookup("ca-root-cert")
	if !ok {
		t.Fatal("ca-root-cert is not registered")
	}
	for _, bad := range []string{"0", "-2"} {
		if _, err := c.Validate(map[string]string{"namespace": "a", "passes": bad}); err == nil || !strings.Contains(err.Error(), "1 or more") {
			t.Errorf("passes=%s: %v", bad, err)
		}
	}
	if p, err := c.Validate(map[string]string{"namespace": "a", "passes": "3"}); err != nil || p.Int("passes") != 3 {
		t.Errorf("passes=3: %v, %v", p, err)
	}
}

// Validate reports every problem, one per parameter, each naming its
// parameter, so the lint can point at the line of each; an optional
// parameter given empty counts as not given.
func TestValidateEveryProblemByParameter(t *testing.T) {
	c, ok := Lookup("resource-count")
	if !ok {
		t.Fatal("resource-count is not registered")
	}
	_, err := c.Validate(map[string]string{"kind": "Nope", "selector": "a in ((", "mni": "1", "min": "x"})
	var inv *checks.InvalidParams
	if !errors.As(err, &inv) {
		t.Fatalf("want *InvalidParams, got %v", err)
	}
	var got []string
	for _, p := range inv.Problems {
		got = append(got, fmt.Sprintf("%s/%d", p.Param, p.Problem))
	}
	if want := []string{"kind/0", "min/0", "mni/2", "selector/0"}; !slices.Equal(got, want) {
		t.Errorf("problems %v, want %v (%v)", got, want, err)
	}
	var pe *checks.ParamError
	if !errors.As(err, &pe) || pe.Param != "kind" {
		t.Errorf("errors.As finds %v first, want the kind", pe)
	}
	p, err := c.Validate(map[string]string{"kind": "Pod", "namespace": "", "selector": ""})
	if err != nil || p.Str("namespace") != "" {
		t.Errorf("empty optional parameters: %v, %v", p, err)
	}
}

// follow-request finds a trace in Tempo by the ID in the line, so a step
// cannot waive the trace ID and ask for Tempo at once.
func TestValidateFollowTraceIDWithTempo(t *testing.T) {
	c, ok := Lookup("follow-request")
	if !ok {
		t.Fatal("follow-request is not registered")
	}
	if _, err := c.Validate(map[string]string{"in": "log,tempo", "trace-id": "false"}); err == nil || !strings.Contains(err.Error(), `parameter "trace-id"`) {
		t.Errorf("in=log,tempo with trace-id=false: %v", err)
	}
	for _, p := range []map[string]string{{"in": "log,loki", "trace-id": "false"}, {"in": "log,tempo"}, {"in": "log,tempo", "trace-id": "true"}} {
		if _, err := c.Validate(p); err != nil {
			t.Errorf("%v: %v", p, err)
		}
	}
}
