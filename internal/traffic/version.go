package traffic

import (
	"encoding/json"
	"strconv"
	"strings"
)

// VersionOf turns the name of the pod that answered into the version of
// its workload, the way the lab names things: reviews-v4-6d8c9b7f5-x2klp
// is version v4 and ratings-v-faulty-50percent-503-7c9d-abcde is version
// v-faulty-50percent-503. Pods of a Deployment end in two generated
// segments (the template hash and a random suffix); the version is what
// follows the app name, starting at the first segment that begins with
// "v". Names that do not look like that are returned whole, so nothing is
// silently merged.
func VersionOf(pod string) string {
	pod = strings.TrimSpace(pod)
	if pod == "" {
		return ""
	}
	segs := strings.Split(pod, "-")
	if len(segs) >= 3 {
		segs = segs[:len(segs)-2]
	}
	for i := 1; i < len(segs); i++ {
		s := segs[i]
		if s == "v" || (len(s) > 1 && s[0] == 'v' && s[1] >= '0' && s[1] <= '9') {
			return strings.Join(segs[i:], "-")
		}
	}
	return strings.Join(segs, "-")
}

// Field reads a dotted path (rating.color, ratings.Reviewer1, items.0.id)
// from a decoded JSON document and renders the value as text. ok is
// false when the path does not exist.
func Field(doc any, path string) (val string, ok bool) {
	cur := doc
	if path != "" {
		for _, key := range strings.Split(path, ".") {
			switch v := cur.(type) {
			case map[string]any:
				cur, ok = v[key]
				if !ok {
					return "", false
				}
			case []any:
				i, err := strconv.Atoi(key)
				if err != nil || i < 0 || i >= len(v) {
					return "", false
				}
				cur = v[i]
			default:
				return "", false
			}
		}
	}
	switch v := cur.(type) {
	case nil:
		return "null", true
	case string:
		return v, true
	case json.Number:
		return v.String(), true
	case bool:
		return strconv.FormatBool(v), true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	default:
		b, _ := json.Marshal(v)
		return string(b), true
	}
}

// findKey searches a JSON document depth-first for the first value under
// key, so "podname" is found wherever a service nests it.
func findKey(doc any, key string) (string, bool) {
	switch v := doc.(type) {
	case map[string]any:
		if x, ok := v[key]; ok {
			if s, ok := x.(string); ok {
				return s, true
			}
		}
		for _, x := range v {
			if s, ok := findKey(x, key); ok {
				return s, true
			}
		}
	case []any:
		for _, x := range v {
			if s, ok := findKey(x, key); ok {
				return s, true
			}
		}
	}
	return "", false
}
