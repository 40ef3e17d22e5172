package breaks

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"
	sigyaml "sigs.k8s.io/yaml"
)

// LineError is a problem with a break's objects, at a line of the text
// given to Parse (from 1).
type LineError struct {
	Line int
	Msg  string
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// Parse reads a break's objects: YAML documents separated by ---. Every
// problem found is returned, each at its line: YAML that does not parse,
// a kind a break may not write, a missing name or namespace, a namespace
// of Kubernetes' own, fields the API server sets, two documents for the
// same object.
func Parse(text string) ([]*unstructured.Unstructured, []*LineError) {
	var out []*unstructured.Unstructured
	var errs []*LineError
	fail := func(line int, format string, a ...any) {
		errs = append(errs, &LineError{Line: line, Msg: fmt.Sprintf(format, a...)})
	}
	seen := map[string]int{}
	dec := yaml.NewDecoder(strings.NewReader(text))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fail(lineOfYAMLError(err, 1), "not valid YAML: %v", err)
			return nil, errs
		}
		if len(doc.Content) == 0 {
			continue // an empty document
		}
		root := doc.Content[0]
		if root.Kind != yaml.MappingNode {
			fail(root.Line, "a break's document must be a Kubernetes object (apiVersion, kind, metadata, ...)")
			continue
		}
		field := func(m *yaml.Node, k string) *yaml.Node {
			for i := 0; i+1 < len(m.Content); i += 2 {
				if m.Content[i].Value == k {
					return m.Content[i+1]
				}
			}
			return nil
		}
		str := func(n *yaml.Node) string {
			if n == nil || n.Kind != yaml.ScalarNode {
				return ""
			}
			return n.Value
		}
		at := func(n *yaml.Node) int {
			if n == nil {
				return root.Line
			}
			return n.Line
		}
		av, kn := field(root, "apiVersion"), field(root, "kind")
		if _, ok := KindOf(str(av), str(kn)); !ok {
			fail(at(kn), "a break may not write %s %q; the kinds it may write are %s", str(av), str(kn), kindNames())
			continue
		}
		md := field(root, "metadata")
		mdLine := root.Line
		for i := 0; i+1 < len(root.Content); i += 2 {
			if root.Content[i].Value == "metadata" {
				mdLine = root.Content[i].Line
			}
		}
		if md == nil || md.Kind != yaml.MappingNode {
			fail(root.Line, "%s has no metadata: it needs metadata.name and metadata.namespace", str(kn))
			continue
		}
		name, ns := field(md, "name"), field(md, "namespace")
		bad := false
		if msgs := validation.IsDNS1123Subdomain(str(name)); str(name) == "" || len(msgs) > 0 {
			fail(at(name), "metadata.name %q is not a valid object name", str(name))
			bad = true
		}
		switch n := str(ns); {
		case n == "":
			fail(mdLine, "metadata.namespace is missing: a break names the namespace of every object it writes")
			bad = true
		case n == "default" || strings.HasPrefix(n, "kube-"):
			fail(at(ns), "a break may not write in namespace %q (Kubernetes' own, or where a lab's objects never are)", n)
			bad = true
		case len(validation.IsDNS1123Label(n)) > 0:
			fail(at(ns), "metadata.namespace %q is not a valid namespace name", n)
			bad = true
		}
		for _, k := range []string{"uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "deletionTimestamp"} {
			if n := field(md, k); n != nil {
				fail(n.Line, "metadata.%s is set by the API server; leave it out", k)
				bad = true
			}
		}
		if n := field(root, "status"); n != nil {
			fail(n.Line, "status is written by controllers, not by a break; leave it out")
			bad = true
		}
		if bad {
			continue
		}
		key := str(kn) + " " + str(ns) + "/" + str(name)
		if prev, dup := seen[key]; dup {
			fail(root.Line, "%s is written twice in this break (first on line %d)", key, prev)
			continue
		}
		seen[key] = root.Line
		raw, err := yaml.Marshal(root)
		if err == nil {
			raw, err = sigyaml.YAMLToJSON(raw)
		}
		u := &unstructured.Unstructured{}
		if err == nil {
			err = u.UnmarshalJSON(raw)
		}
		if err != nil {
			fail(root.Line, "%s: %v", key, err)
			continue
		}
		out = append(out, u)
	}
	if len(out) == 0 && len(errs) == 0 {
		fail(1, "a break needs at least one object")
	}
	return out, errs
}

// lineOfYAMLError reads the line out of yaml.v3's "yaml: line N: ..."
// messages.
func lineOfYAMLError(err error, deflt int) int {
	var n int
	msg := err.Error()
	if i := strings.Index(msg, "line "); i >= 0 {
		if _, e := fmt.Sscanf(msg[i:], "line %d", &n); e == nil && n > 0 {
			return n
		}
	}
	return deflt
}

// Encode writes objects as one YAML stream, for diffs and records.
func Encode(objs ...map[string]any) string {
	var b bytes.Buffer
	for i, o := range objs {
		if i > 0 {
			b.WriteString("---\n")
		}
		y, err := sigyaml.Marshal(o)
		if err != nil {
			fmt.Fprintf(&b, "# cannot show: %v\n", err)
			continue
		}
		b.Write(y)
	}
	return b.String()
}
