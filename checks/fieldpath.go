package checks

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
)

// A field path names values inside an object, for lessons that assert a
// field:
//
//	spec.http[0].route[1].weight          map keys and list indexes
//	spec.http[0].route[-1]                the last item
//	spec.subsets[name=v3].labels.version  the items whose name is v3
//	spec.http[0].route[destination.subset=v4].weight
//	metadata.labels["istio.io/rev"]       a key with dots or slashes
//	spec.servers[*].port.number           every item
//
// A filter or [*] can select several values; the operators then require
// every selected value to pass (see compare).
type PathStep struct {
	Key         string // map key; "" for a bracket step
	Index       *int   // [n]
	Every       bool   // [*]
	FilterKey   string // [fkey=fval]
	FilterValue string
	Quoted      bool // key came from ["..."]
}

func (s PathStep) String() string {
	switch {
	case s.Index != nil:
		return fmt.Sprintf("[%d]", *s.Index)
	case s.Every:
		return "[*]"
	case s.FilterKey != "":
		return "[" + s.FilterKey + "=" + s.FilterValue + "]"
	case s.Quoted:
		return fmt.Sprintf("[%q]", s.Key)
	}
	return "." + s.Key
}

// ParsePath splits a path into steps, or says what is wrong with it.
func ParsePath(p string) ([]PathStep, error) {
	var steps []PathStep
	bad := func(why string) ([]PathStep, error) {
		return nil, &ParamError{Param: "path", Value: p, Want: "a field path such as spec.http[0].route[1].weight or spec.subsets[name=v3].labels (" + why + ")"}
	}
	s := strings.TrimSpace(p)
	s = strings.TrimPrefix(s, ".")
	if s == "" {
		return bad("it is empty")
	}
	for s != "" {
		switch s[0] {
		case '.':
			s = s[1:]
			if s == "" || s[0] == '.' || s[0] == '[' {
				return bad("a dot must be followed by a field name")
			}
		case '[':
			end := closingBracket(s)
			if end < 0 {
				return bad("a [ is not closed")
			}
			inner := strings.TrimSpace(s[1:end])
			s = s[end+1:]
			switch {
			case inner == "*":
				steps = append(steps, PathStep{Every: true})
			case len(inner) >= 2 && (inner[0] == '"' || inner[0] == '\'') && inner[len(inner)-1] == inner[0]:
				steps = append(steps, PathStep{Key: inner[1 : len(inner)-1], Quoted: true})
			case strings.Contains(inner, "="):
				k, v, _ := strings.Cut(inner, "=")
				k, v = strings.TrimSpace(k), unquote(strings.TrimSpace(v))
				if k == "" {
					return bad("a filter needs a field name before =")
				}
				steps = append(steps, PathStep{FilterKey: k, FilterValue: v})
			default:
				n, err := strconv.Atoi(inner)
				if err != nil {
					return bad(fmt.Sprintf("[%s] is not an index, [*], [\"key\"] or [field=value]", inner))
				}
				steps = append(steps, PathStep{Index: &n})
			}
			continue
		}
		i := strings.IndexAny(s, ".[")
		if i < 0 {
			i = len(s)
		}
		steps = append(steps, PathStep{Key: s[:i]})
		s = s[i:]
	}
	return steps, nil
}

func closingBracket(s string) int {
	var quote byte
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
		case c == '"' || c == '\'':
			quote = c
		case c == ']':
			return i
		}
	}
	return -1
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}

// Operators of resource-field and mesh-config.
var FieldOps = []string{"equals", "not-equals", "contains", "exists", "absent", "matches", "gte", "lte"}

// orderable says whether gte and lte can compare with want: a number, a
// duration or a quantity.
func orderable(want string) bool {
	if _, err := strconv.ParseFloat(want, 64); err == nil {
		return true
	}
	if _, err := time.ParseDuration(want); err == nil {
		return true
	}
	_, err := resource.ParseQuantity(want)
	return err == nil
}
