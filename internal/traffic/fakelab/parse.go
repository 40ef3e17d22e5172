package fakelab

import (
	"fmt"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

var docSep = regexp.MustCompile(`(?m)^---\s*$`)

// ParseObjects reads multi-document YAML into objects, for a World built
// without an API server (FromObjects).
func ParseObjects(text string) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for i, doc := range docSep.Split(text, -1) {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		var m map[string]any
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			return nil, fmt.Errorf("fakelab: YAML document %d: %v", i+1, err)
		}
		if len(m) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
	return out, nil
}

// FromYAML simulates the objects of multi-document YAML without an API
// server. A later document for an object an earlier one has replaces it,
// as applying it would, so a test can state a lab and then change it.
func FromYAML(text string, o Options) (*Sim, error) {
	objs, err := ParseObjects(text)
	if err != nil {
		return nil, err
	}
	at := map[string]int{}
	var kept []*unstructured.Unstructured
	for _, obj := range objs {
		k := obj.GetKind() + "/" + obj.GetNamespace() + "/" + obj.GetName()
		if i, ok := at[k]; ok {
			kept[i] = obj
			continue
		}
		at[k] = len(kept)
		kept = append(kept, obj)
	}
	w, err := FromObjects(kept)
	if err != nil {
		return nil, err
	}
	return NewSim(Static(w), o), nil
}
