// Package room is meshdojo for a workshop's instructor: the participants'
// clusters, named from their kubeconfigs, each watched by its own check
// engine, so one view (or one `meshdojo check` run) shows where everyone
// in the room is.
//
// Every participant is independent: its own connection with its own
// time-out, its own engine and goroutine, so a slow or unreachable
// cluster never delays the others, and one that goes away comes back by
// itself (the engine reconnects; a participant that could not connect
// at all is tried again on a back-off).
package room

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/meshdojo/meshdojo/internal/cluster"
)

// Participant is one person in the room: a name for the instructor and
// the cluster their kubeconfig points at.
type Participant struct {
	Name string
	// Opts is how to reach the participant's cluster: one kubeconfig
	// file and, when the file has several contexts, which one.
	Opts cluster.Options
}

// Participants resolves the kubeconfigs an instructor gave into
// participants, without contacting any cluster.
//
// Each path is a kubeconfig file or a directory of them (every regular
// file in it whose name does not start with a dot, not recursing). A
// file with one context is one participant named after the file (its
// name without .yaml, .yml, .json, .conf, .config or .kubeconfig); a
// file with several contexts is one participant per context, named
// after the context. When context is not empty, it picks that context
// in every file, and each file is one participant named after the file.
// Two participants with the same name are refused, naming both.
func Participants(paths []string, context string) ([]Participant, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("no kubeconfigs given: pass a directory of the participants' kubeconfigs, or --kubeconfig once per participant")
	}
	var files []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("kubeconfig %s: %v", p, err)
		}
		if !fi.IsDir() {
			files = append(files, p)
			continue
		}
		ents, err := os.ReadDir(p)
		if err != nil {
			return nil, fmt.Errorf("kubeconfig directory %s: %v", p, err)
		}
		n := 0
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".") || !e.Type().IsRegular() && e.Type()&os.ModeSymlink == 0 {
				continue
			}
			f := filepath.Join(p, e.Name())
			if st, err := os.Stat(f); err != nil || !st.Mode().IsRegular() {
				continue
			}
			files = append(files, f)
			n++
		}
		if n == 0 {
			return nil, fmt.Errorf("kubeconfig directory %s has no files; put one kubeconfig per participant in it", p)
		}
	}

	var out []Participant
	from := map[string]string{} // name -> where it came from, for duplicates
	add := func(p Participant, where string) error {
		if prev, dup := from[p.Name]; dup {
			return fmt.Errorf("two participants are called %q (%s and %s); rename a file or a context so each participant has their own name", p.Name, prev, where)
		}
		from[p.Name] = where
		out = append(out, p)
		return nil
	}
	for _, f := range files {
		cfg, err := clientcmd.LoadFromFile(f)
		if err != nil {
			return nil, fmt.Errorf("kubeconfig %s is not a kubeconfig: %v; keep only the participants' kubeconfig files there", f, err)
		}
		if context != "" {
			if cfg.Contexts[context] == nil {
				return nil, fmt.Errorf("kubeconfig %s has no context %q (it has %s); drop --context to use every file's own", f, context, contextList(cfg.Contexts))
			}
			if err := add(Participant{Name: fileName(f), Opts: cluster.Options{Kubeconfig: f, Context: context}}, f); err != nil {
				return nil, err
			}
			continue
		}
		var names []string
		for n := range cfg.Contexts {
			names = append(names, n)
		}
		sort.Strings(names)
		switch len(names) {
		case 0:
			return nil, fmt.Errorf("kubeconfig %s has no contexts; it cannot name a participant's cluster", f)
		case 1:
			if err := add(Participant{Name: fileName(f), Opts: cluster.Options{Kubeconfig: f, Context: names[0]}}, f); err != nil {
				return nil, err
			}
		default:
			for _, n := range names {
				if err := add(Participant{Name: n, Opts: cluster.Options{Kubeconfig: f, Context: n}}, f+" context "+n); err != nil {
					return nil, err
				}
			}
		}
	}
	return out, nil
}

// fileName is a participant's name from their kubeconfig's file name.
func fileName(path string) string {
	base := filepath.Base(path)
	for _, ext := range []string{".kubeconfig", ".yaml", ".yml", ".json", ".conf", ".config"} {
		if s, ok := strings.CutSuffix(base, ext); ok && s != "" {
			return s
		}
	}
	return base
}

func contextList[V any](m map[string]V) string {
	if len(m) == 0 {
		return "none"
	}
	var names []string
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
