package catalogue

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"

	"github.com/meshdojo/meshdojo/checks"
)

// lookup is the outcome of following a path: the values found, each with
// its concrete path, or why nothing was found.
type lookup struct {
	Values []any
	Paths  []string
	// Missing explains where the path ran out, e.g.
	// "spec.http[0].route has 1 item, so there is no [1]".
	Missing string
}

// evalPath follows steps through a decoded JSON/YAML value.
func evalPath(root any, steps []checks.PathStep) lookup {
	type cur struct {
		v    any
		path string
	}
	curs := []cur{{root, ""}}
	var missing string
	for _, st := range steps {
		var next []cur
		for _, c := range curs {
			where := c.path
			if where == "" {
				where = "the object"
			}
			switch {
			case st.Index != nil || st.Every || st.FilterKey != "":
				list, ok := c.v.([]any)
				if !ok {
					missing = fmt.Sprintf("%s is %s, not a list", where, describe(c.v))
					continue
				}
				switch {
				case st.Every:
					for i, v := range list {
						next = append(next, cur{v, fmt.Sprintf("%s[%d]", c.path, i)})
					}
					if len(list) == 0 {
						missing = where + " is an empty list"
					}
				case st.Index != nil:
					i := *st.Index
					if i < 0 {
						i += len(list)
					}
					if i < 0 || i >= len(list) {
						missing = fmt.Sprintf("%s has %s, so there is no [%d]", where, plural(len(list), "item", "items"), *st.Index)
						continue
					}
					next = append(next, cur{list[i], fmt.Sprintf("%s[%d]", c.path, i)})
				default:
					fsteps, _ := checks.ParsePath(st.FilterKey)
					var seen []string
					n := 0
					for _, v := range list {
						got := evalPath(v, fsteps)
						for _, fv := range got.Values {
							seen = append(seen, scalarString(fv))
							if scalarString(fv) == st.FilterValue {
								next = append(next, cur{v, fmt.Sprintf("%s[%s=%s]", c.path, st.FilterKey, st.FilterValue)})
								n++
								break
							}
						}
					}
					if n == 0 {
						if len(seen) == 0 {
							missing = fmt.Sprintf("no item of %s has %s", where, st.FilterKey)
						} else {
							missing = fmt.Sprintf("no item of %s has %s=%s (found: %s)", where, st.FilterKey, st.FilterValue, joinMax(seen, 8))
						}
					}
				}
			default:
				m, ok := c.v.(map[string]any)
				p := c.path + "." + st.Key
				if c.path == "" {
					p = st.Key
				}
				if st.Quoted || strings.ContainsAny(st.Key, "./") {
					p = fmt.Sprintf("%s[%q]", c.path, st.Key)
				}
				if !ok {
					missing = fmt.Sprintf("%s is %s, so it has no field %s", where, describe(c.v), st.Key)
					continue
				}
				v, ok := m[st.Key]
				if !ok || v == nil {
					missing = fmt.Sprintf("%s is not set", p)
					continue
				}
				next = append(next, cur{v, p})
			}
		}
		curs = next
		if len(curs) == 0 {
			return lookup{Missing: missing}
		}
	}
	out := lookup{}
	for _, c := range curs {
		out.Values = append(out.Values, c.v)
		out.Paths = append(out.Paths, c.path)
	}
	return out
}

func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return fmt.Sprintf("a list of %d", len(v))
	case string:
		return fmt.Sprintf("the string %q", v)
	}
	return fmt.Sprintf("the value %v", v)
}

// scalarString renders a value the way a lesson would write it.
func scalarString(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		if strings.Contains(v, "\n") {
			q := strconv.Quote(v)
			if len(q) > 160 {
				q = q[:157] + "..."
			}
			return q
		}
		return v
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1e15 {
			return strconv.FormatInt(int64(v), 10)
		}
		return strconv.FormatFloat(v, 'g', -1, 64)
	case int64, int, int32, bool:
		return fmt.Sprint(v)
	}
	b, _ := json.Marshal(v)
	s := string(b)
	if len(s) > 160 {
		s = s[:157] + "..."
	}
	return s
}

// compare judges the values a path selected against op and want. It
// returns whether they pass and the observed text for the reader.
// Several values (from [*] or a filter) must all pass; exists needs at
// least one and absent none. not-equals passes for a missing field.
func compare(l lookup, op, want string) (ok bool, observed string, err error) {
	observed = observedText(l)
	switch op {
	case "exists":
		return len(l.Values) > 0, observed, nil
	case "absent":
		return len(l.Values) == 0, observed, nil
	case "not-equals":
		for _, v := range l.Values {
			if equalValue(v, want) {
				return false, observed, nil
			}
		}
		return true, observed, nil
	}
	if len(l.Values) == 0 {
		return false, observed, nil
	}
	var re *regexp.Regexp
	if op == "matches" {
		if re, err = regexp.Compile(want); err != nil {
			return false, observed, &checks.ParamError{Param: "value", Value: want, Want: "a regular expression (RE2 syntax)"}
		}
	}
	for _, v := range l.Values {
		var pass bool
		switch op {
		case "equals":
			pass = equalValue(v, want)
		case "contains":
			pass = containsValue(v, want)
		case "matches":
			// The string itself: scalarString quotes and shortens
			// multi-line text for display, which a pattern must not see
			// (PROXY_CONFIG ends in a newline).
			text, isString := v.(string)
			if !isString {
				text = scalarString(v)
			}
			pass = re.MatchString(text)
		case "gte", "lte":
			c, cerr := orderValue(v, want)
			if cerr != nil {
				return false, observed, cerr
			}
			pass = (op == "gte" && c >= 0) || (op == "lte" && c <= 0)
		default:
			return false, observed, &checks.ParamError{Param: "op", Value: op, Want: "one of " + strings.Join(checks.FieldOps, ", ")}
		}
		if !pass {
			return false, observed, nil
		}
	}
	return true, observed, nil
}

func observedText(l lookup) string {
	if len(l.Values) == 0 {
		return "absent: " + l.Missing
	}
	var parts []string
	for i, v := range l.Values {
		parts = append(parts, l.Paths[i]+" = "+scalarString(v))
	}
	return joinMax(parts, 6)
}

// expectedText says in words what op and want require.
func expectedText(path, op, want string) string {
	switch op {
	case "exists":
		return path + " is set"
	case "absent":
		return path + " is not set"
	case "equals":
		return path + " = " + want
	case "not-equals":
		return path + " ≠ " + want + " (or not set)"
	case "contains":
		return path + " contains " + want
	case "matches":
		return path + " matches /" + want + "/"
	case "gte":
		return path + " ≥ " + want
	case "lte":
		return path + " ≤ " + want
	}
	return op + " " + want
}

// equalValue compares a decoded value with a lesson's string: numbers as
// numbers, booleans as booleans, durations as durations, lists and
// objects by parsing want as YAML.
func equalValue(v any, want string) bool {
	switch v := v.(type) {
	case nil:
		return want == "" || want == "null"
	case string:
		if v == want {
			return true
		}
		if dv, err := time.ParseDuration(v); err == nil {
			if dw, err := time.ParseDuration(want); err == nil {
				return dv == dw
			}
		}
		return false
	case bool:
		b, err := strconv.ParseBool(want)
		return err == nil && b == v
	case float64, int64, int:
		f, err := strconv.ParseFloat(want, 64)
		return err == nil && f == toFloat(v)
	}
	var w any
	if err := yaml.Unmarshal([]byte(want), &w); err != nil {
		return false
	}
	return reflect.DeepEqual(normalize(v), normalize(w))
}

func toFloat(v any) float64 {
	switch v := v.(type) {
	case float64:
		return v
	case int64:
		return float64(v)
	case int:
		return float64(v)
	}
	return math.NaN()
}

// normalize round-trips through JSON so int64 and float64 compare equal.
func normalize(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

func containsValue(v any, want string) bool {
	switch v := v.(type) {
	case string:
		return strings.Contains(v, want)
	case []any:
		for _, e := range v {
			if equalValue(e, want) {
				return true
			}
			if m, ok := e.(map[string]any); ok && m["name"] == want {
				return true
			}
		}
	case map[string]any:
		_, ok := v[want]
		return ok
	}
	return false
}

// orderValue compares v with want as numbers, durations or quantities.
func orderValue(v any, want string) (int, error) {
	if f, err := strconv.ParseFloat(want, 64); err == nil {
		switch v.(type) {
		case float64, int64, int:
			return cmpFloat(toFloat(v), f), nil
		case string:
			if g, err := strconv.ParseFloat(v.(string), 64); err == nil {
				return cmpFloat(g, f), nil
			}
		}
	}
	if s, ok := v.(string); ok {
		if dv, err := time.ParseDuration(s); err == nil {
			if dw, err := time.ParseDuration(want); err == nil {
				return cmpFloat(float64(dv), float64(dw)), nil
			}
		}
		if qv, err := resource.ParseQuantity(s); err == nil {
			if qw, err := resource.ParseQuantity(want); err == nil {
				return qv.Cmp(qw), nil
			}
		}
	}
	return 0, &checks.ParamError{Param: "value", Value: want, Want: fmt.Sprintf("something comparable with %s (a number, a duration such as 5s, or a quantity such as 100Mi)", scalarString(v))}
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
