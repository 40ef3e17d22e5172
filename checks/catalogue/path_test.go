package catalogue

import (
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/meshdojo/meshdojo/checks"
)

const vsYAML = `
metadata:
  labels: {istio.io/rev: stable}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
      weight: 0
    - destination: {host: reviews, subset: v4}
      weight: 100
    timeout: 5s
    retries: {attempts: 3, retryOn: "connect-failure,reset-before-request,5xx"}
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v3, labels: {version: v3}}
  proxyConfig: |
    {"drainDuration":"30s","proxyMetadata":{"EXIT_ON_ZERO_ACTIVE_CONNECTIONS":"true","MINIMUM_DRAIN_DURATION":"10s"},"controlPlaneAuthPolicy":"MUTUAL_TLS","discoveryAddress":"istiod-1-29-0.istio-system.svc:15012","statusPort":15020}
`

func TestPath(t *testing.T) {
	var obj any
	if err := yaml.Unmarshal([]byte(vsYAML), &obj); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path, op, value string
		ok              bool
		observed        string // substring
	}{
		{"spec.http[0].route[1].weight", "equals", "100", true, "spec.http[0].route[1].weight = 100"},
		{"spec.http[0].route[-1].destination.subset", "equals", "v4", true, "[1]"},
		{"spec.http[0].route[destination.subset=v4].weight", "equals", "100", true, ""},
		{"spec.http[0].route[destination.subset=v2].weight", "equals", "100", false, "no item of spec.http[0].route has destination.subset=v2 (found: v1, v4)"},
		{"spec.http[0].route[2]", "exists", "", false, "has 2 items, so there is no [2]"},
		{"spec.subsets[name=v3].labels.version", "equals", "v3", true, ""},
		{"spec.subsets[name='v3'].labels", "equals", "{version: v3}", true, ""},
		{`metadata.labels["istio.io/rev"]`, "equals", "stable", true, `metadata.labels["istio.io/rev"] = stable`},
		{"spec.http[0].timeout", "equals", "5000ms", true, ""},
		{"spec.http[0].timeout", "lte", "5s", true, ""},
		{"spec.http[0].timeout", "gte", "6s", false, ""},
		{"spec.http[0].retries.retryOn", "contains", "5xx", true, ""},
		{"spec.http[0].retries.attempts", "gte", "3", true, ""},
		{"spec.hosts", "contains", "reviews", true, ""},
		{"spec.hosts", "equals", "[reviews]", true, ""},
		{"spec.http[0].fault", "absent", "", true, "spec.http[0].fault is not set"},
		{"spec.http[0].fault.abort", "not-equals", "x", true, ""},
		{"spec.http[*].route[*].weight", "gte", "0", true, ""},
		{"spec.http[*].route[*].weight", "equals", "100", false, "spec.http[0].route[0].weight = 0"},
		{"spec.hosts[0]", "matches", "^rev", true, ""},
		// A multi-line string is matched as it is, not as the quoted and
		// shortened text the reader is shown.
		{"spec.proxyConfig", "matches", `"statusPort"\s*:\s*15020`, true, ""},
		{"spec.proxyConfig", "matches", `"drainDuration"\s*:\s*"15s"`, false, ""},
		{"spec.hosts.x", "exists", "", false, "is a list of 1, so it has no field x"},
		{"spec.hosts[0][1]", "exists", "", false, "not a list"},
	}
	for _, tt := range tests {
		steps, err := checks.ParsePath(tt.path)
		if err != nil {
			t.Errorf("%s: %v", tt.path, err)
			continue
		}
		ok, obs, err := compare(evalPath(obj, steps), tt.op, tt.value)
		if err != nil {
			t.Errorf("%s %s %s: %v", tt.path, tt.op, tt.value, err)
			continue
		}
		if ok != tt.ok || !strings.Contains(obs, tt.observed) {
			t.Errorf("%s %s %s = %v, %q; want %v, containing %q", tt.path, tt.op, tt.value, ok, obs, tt.ok, tt.observed)
		}
	}
}

func TestBadPaths(t *testing.T) {
	for _, p := range []string{"", "spec..x", "spec.x[", "spec.x[abc]", "spec.x[=v]", "spec.[0]"} {
		if _, err := checks.ParsePath(p); err == nil {
			t.Errorf("parsePath(%q) accepted a bad path", p)
		}
	}
	var obj any = map[string]any{"a": "text"}
	steps, _ := checks.ParsePath("a")
	if _, _, err := compare(evalPath(obj, steps), "gte", "5"); err == nil {
		t.Error("gte on text should be a parameter error")
	}
	if _, _, err := compare(evalPath(obj, steps), "matches", "("); err == nil {
		t.Error("a bad regular expression should be a parameter error")
	}
}
