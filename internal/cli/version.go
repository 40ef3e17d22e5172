package cli

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
)

// versionModules are the client libraries whose versions decide which
// Istio and Kubernetes releases meshdojo understands, so a bug report
// says which ones a binary was built with (as kubectl version --client
// does for Kubernetes).
var versionModules = []string{
	"istio.io/client-go",
	"istio.io/api",
	"k8s.io/client-go",
	"k8s.io/api",
	"k8s.io/apimachinery",
	"sigs.k8s.io/gateway-api",
}

// printVersion writes meshdojo's version and its client libraries'.
func printVersion(w io.Writer) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		fmt.Fprintf(w, "meshdojo: version unknown (built without module information)\nGo: %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return
	}
	io.WriteString(w, versionText(bi, runtime.GOOS+"/"+runtime.GOARCH))
}

// versionText formats build information: the main module's version (and
// commit, when the build recorded one), the Go release, and the version
// of each of versionModules, replacements included.
func versionText(bi *debug.BuildInfo, platform string) string {
	var b strings.Builder
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = ", modified"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	line := func(k, v string) { fmt.Fprintf(&b, "%-24s %s\n", k+":", v) }
	if rev != "" {
		v += " (commit " + rev + modified + ")"
	}
	line("meshdojo", v)
	line("Go", strings.TrimSpace(bi.GoVersion+" "+platform))
	deps := map[string]*debug.Module{}
	for _, d := range bi.Deps {
		deps[d.Path] = d
	}
	for _, p := range versionModules {
		d := deps[p]
		switch {
		case d == nil:
			line(p, "not in this build")
		case d.Replace != nil && d.Replace.Version != "":
			line(p, d.Replace.Version+" (replaces "+d.Version+")")
		case d.Replace != nil:
			line(p, d.Version+" (replaced by "+d.Replace.Path+")")
		default:
			line(p, d.Version)
		}
	}
	return b.String()
}
