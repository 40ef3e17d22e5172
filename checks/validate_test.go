package checks

import (
	"strings"
	"testing"
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
