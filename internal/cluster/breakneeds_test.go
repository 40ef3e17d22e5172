package cluster_test

import (
	"strings"
	"testing"

	"github.com/meshdojo/meshdojo/internal/cluster"
	"github.com/meshdojo/meshdojo/lessons"
)

// A lesson's break adds what it writes to the permissions doctor asks
// about: every verb of breaks.Capability on the kind, in the namespace
// the break writes in.
func TestNeedsHoldBreaks(t *testing.T) {
	src := strings.Join([]string{"---", "id: 14", "chapter: 14", "title: T", "summary: S.", "mode: sidecar", "lab: chapter-06", "minutes: 5", "---", "",
		"## Break", "", "Text.", "", "```break tls-off",
		"apiVersion: networking.istio.io/v1", "kind: DestinationRule", "metadata: {name: ratings, namespace: bookinfo}", "spec: {host: ratings}", "```", ""}, "\n")
	l, err := lessons.Parse("14.md", src)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, n := range cluster.Needs([]*lessons.Lesson{l}) {
		for _, f := range n.For {
			if f == "break 14.tls-off" {
				got[n.Verb+" "+n.Name()+" "+n.Namespace] = true
			}
		}
	}
	for _, v := range []string{"get", "create", "patch", "delete"} {
		if k := v + " destinationrules.networking.istio.io bookinfo"; !got[k] {
			t.Errorf("Needs lacks %q (has %v)", k, got)
		}
	}
	if len(got) != 4 {
		t.Errorf("Needs has %d permissions for the break, want 4: %v", len(got), got)
	}
}
