package breaks

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// ownedBy is the set of fields (managedFields' FieldsV1, as a tree of
// "f:name", "k:{...}", "v:..." and "i:N" keys) that manager holds on o
// through server-side apply, or nil when it holds none.
func ownedBy(o *unstructured.Unstructured, manager string) (map[string]any, error) {
	var set map[string]any
	for _, mf := range o.GetManagedFields() {
		if mf.Manager != manager || mf.Operation != "Apply" || mf.Subresource != "" || mf.FieldsV1 == nil {
			continue
		}
		var f map[string]any
		if err := json.Unmarshal(mf.FieldsV1.Raw, &f); err != nil {
			return nil, fmt.Errorf("reading managed fields: %w", err)
		}
		set = merge(set, f)
	}
	if len(set) == 0 {
		return nil, nil
	}
	return set, nil
}

func merge(a, b map[string]any) map[string]any {
	if a == nil {
		return b
	}
	for k, v := range b {
		am, _ := a[k].(map[string]any)
		bm, _ := v.(map[string]any)
		a[k] = merge(am, bm)
		if a[k] == nil {
			a[k] = map[string]any{}
		}
	}
	return a
}

// leaf: the set names this node as a whole, not some of its children.
func leaf(set map[string]any) bool {
	for k := range set {
		if k != "." {
			return false
		}
	}
	return true
}

// pick is the part of prev that set names: what to apply, as the
// break's field manager, to put those fields back. A field the set
// names that prev lacks is left out, so server-side apply removes it
// (the break added it). ok is false when nothing of prev is named.
func pick(set map[string]any, prev any) (any, bool) {
	switch p := prev.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, sub := range set {
			name, ok := strings.CutPrefix(k, "f:")
			if !ok {
				continue
			}
			pv, ok := p[name]
			if !ok {
				continue
			}
			sm, _ := sub.(map[string]any)
			if leaf(sm) {
				out[name] = pv
			} else if v, ok := pick(sm, pv); ok {
				out[name] = v
			}
		}
		return out, len(out) > 0
	case []any:
		var out []any
		for k, sub := range set {
			sm, _ := sub.(map[string]any)
			switch {
			case strings.HasPrefix(k, "k:"):
				var keys map[string]any
				if json.Unmarshal([]byte(k[2:]), &keys) != nil {
					continue
				}
				for _, e := range p {
					em, ok := e.(map[string]any)
					if !ok || !hasKeys(em, keys) {
						continue
					}
					if leaf(sm) {
						out = append(out, em)
						break
					}
					v, _ := pick(sm, em)
					vm, _ := v.(map[string]any)
					if vm == nil {
						vm = map[string]any{}
					}
					for kk, kv := range keys { // an item of a keyed list needs its keys
						vm[kk] = kv
					}
					out = append(out, vm)
					break
				}
			case strings.HasPrefix(k, "v:"):
				var v any
				if json.Unmarshal([]byte(k[2:]), &v) != nil {
					continue
				}
				for _, e := range p {
					if reflect.DeepEqual(norm(e), norm(v)) {
						out = append(out, e)
						break
					}
				}
			case strings.HasPrefix(k, "i:"):
				var i int
				if _, err := fmt.Sscanf(k, "i:%d", &i); err == nil && i >= 0 && i < len(p) {
					out = append(out, p[i])
				}
			}
		}
		return out, len(out) > 0
	}
	return prev, prev != nil
}

func hasKeys(e, keys map[string]any) bool {
	for k, v := range keys {
		if !reflect.DeepEqual(norm(e[k]), norm(v)) {
			return false
		}
	}
	return true
}

// norm makes numbers comparable across JSON decoders (int64 in
// unstructured objects, float64 from encoding/json).
func norm(v any) any {
	switch n := v.(type) {
	case int64:
		return float64(n)
	case int:
		return float64(n)
	case int32:
		return float64(n)
	}
	return v
}

// normAll is norm through a whole value.
func normAll(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := map[string]any{}
		for k, x := range t {
			m[k] = normAll(x)
		}
		return m
	case []any:
		l := make([]any, len(t))
		for i, x := range t {
			l[i] = normAll(x)
		}
		return l
	}
	return norm(v)
}

// changedSince lists what differs between the object now and before the
// break, outside the fields the break still owns.
func changedSince(cur *unstructured.Unstructured, prev map[string]any, owned map[string]any) []string {
	var out []string
	var walk func(path string, now, was any, set map[string]any)
	walk = func(path string, now, was any, set map[string]any) {
		nm, nok := now.(map[string]any)
		wm, wok := was.(map[string]any)
		if nok && wok {
			keys := map[string]bool{}
			for k := range nm {
				keys[k] = true
			}
			for k := range wm {
				keys[k] = true
			}
			for k := range keys {
				var sub map[string]any
				if set != nil {
					if s, ok := set["f:"+k]; ok {
						sub, _ = s.(map[string]any)
						if leaf(sub) {
							continue // the break's field: restored
						}
					}
				}
				p := k
				if path != "" {
					p = path + "." + k
				}
				walk(p, nm[k], wm[k], sub)
			}
			return
		}
		if !reflect.DeepEqual(normAll(now), normAll(was)) {
			if set != nil {
				return // a list or value the break owns part of: restored
			}
			out = append(out, path)
		}
	}
	walk("", trimmed(cur.Object), prev, owned)
	sort.Strings(out)
	return out
}
