package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/meshdojo/meshdojo/checks"
	"github.com/meshdojo/meshdojo/internal/breaks"
	"github.com/meshdojo/meshdojo/internal/cluster"
	"github.com/meshdojo/meshdojo/internal/presence"
	"github.com/meshdojo/meshdojo/internal/progress"
	"github.com/meshdojo/meshdojo/lessons"
	"github.com/meshdojo/meshdojo/tui"
)

func init() { tutorial = runTutorial }

// target is what the tutorial and the plain commands agree on: which
// lessons, which cluster context, and where progress is kept.
type target struct {
	all     []*lessons.Lesson
	context string // kube context name, resolved locally; "" when none
	opts    cluster.Options
	store   *progress.Store
}

// clusterFlags adds --context and --kubeconfig to a flag set.
func clusterFlags(fs *flag.FlagSet) (ctx, kubeconfig *string) {
	ctx = fs.String("context", "", "kube context to use (default: the kubeconfig's current context)")
	kubeconfig = fs.String("kubeconfig", "", "kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
	return ctx, kubeconfig
}

// trafficFlags adds --ingress and --probe-image, the reader's choices for
// checks that send traffic. The returned func gives them (once parsed,
// over MESHDOJO_INGRESS and MESHDOJO_PROBE_IMAGE) for this run's engine,
// or an error that names the bad flag.
func trafficFlags(fs *flag.FlagSet) func() (checks.TrafficSettings, error) {
	ingress := fs.String("ingress", "", "reach the ingress gateway at this URL instead of discovering it, e.g. http://localhost:9080 (a kubectl port-forward)")
	image := fs.String("probe-image", "", "image for in-cluster probe pods (default curlimages/curl)")
	keycloak := fs.String("keycloak", "", "reach the lab's Keycloak at this URL when a probe signs a user in, e.g. http://localhost:8080 (a kubectl port-forward to the ingress gateway's port 8080)")
	return func() (checks.TrafficSettings, error) {
		s := checks.TrafficFromEnv()
		if *ingress != "" {
			s.Ingress = *ingress
		}
		if *image != "" {
			s.ProbeImage = *image
		}
		if *keycloak != "" {
			s.Keycloak = *keycloak
		}
		return checks.ParseTraffic(s)
	}
}

// resolve loads the lessons and finds the context without contacting the
// cluster, so it is instant even when the cluster is down.
func resolve(ctx, kubeconfig string) (*target, error) {
	all, err := lessons.Load()
	if err != nil {
		return nil, fmt.Errorf("the lessons built into this binary do not load: %v", err)
	}
	if len(all) == 0 {
		return nil, errors.New("this build has no lessons")
	}
	t := &target{all: all, context: ctx, opts: cluster.Options{Kubeconfig: kubeconfig, Context: ctx}}
	if kt, err := cluster.Load(t.opts); err == nil {
		t.context = kt.Context
	}
	t.store, err = progress.Open("")
	if err != nil {
		return nil, err
	}
	return t, nil
}

// findLesson returns the lesson for a --lesson value, or an error that
// lists the valid IDs.
func findLesson(all []*lessons.Lesson, id string) (*lessons.Lesson, error) {
	l, ok := lessons.Find(all, id)
	if ok {
		return l, nil
	}
	if title, ok := lessons.ChapterTitle(id); ok {
		// A real chapter of the book whose lesson is not written: say
		// which chapter it is, so the reader knows they typed it right.
		return nil, fmt.Errorf("lesson %s (book %s, %q) is not written yet. Lessons you can open now: %s (see meshdojo list)",
			strings.ToUpper(lessons.NormalizeID(id)), lessons.ChapterName(id), title, strings.ToUpper(lessons.IDs(all)))
	}
	return nil, fmt.Errorf("there is no lesson %q; valid lessons are %s (see meshdojo list)", id, lessons.IDs(all))
}

// checkStep validates a 1-based --step for a lesson.
func checkStep(l *lessons.Lesson, step int) error {
	if step < 1 || step > len(l.Steps) {
		return fmt.Errorf("lesson %s has steps 1 to %d, not %d (see meshdojo show --lesson %s)", l.ID, len(l.Steps), step, l.ID)
	}
	return nil
}

func runTutorial(args []string, io IO) int {
	fs := flag.NewFlagSet("meshdojo", flag.ContinueOnError)
	lessonF := fs.String("lesson", "", "lesson to open: a chapter number such as 6 or 10, or an appendix such as a2")
	stepF := fs.Int("step", 0, "step of the lesson to open, from 1 (needs --lesson)")
	themeF := fs.String("theme", "auto", "colours: auto (follow the terminal), dark or light; NO_COLOR turns colour off")
	presentF := fs.Bool("present", false, "presenter mode, for a projector: no sidebar, large step title and counter, high contrast (P toggles it); meshdojo notes on a second terminal follows it")
	versionF := fs.Bool("version", false, "print the version of meshdojo and of the Istio and Kubernetes client libraries it was built with")
	ctxF, kcF := clusterFlags(fs)
	trafficF := trafficFlags(fs)
	allowProd := fs.Bool("allow-production", false, "let lessons' breaks (B) write to a context whose name or API server looks like production (names with \"prod\", servers that are not local or private addresses)")
	fs.Usage = func() {
		usage(fs.Output())
		fmt.Fprintln(fs.Output(), "\nFlags:")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, io); !ok {
		return code
	}
	if *versionF {
		printVersion(io.Out)
		return 0
	}
	settings, err := trafficF()
	if err != nil {
		fmt.Fprintln(io.Err, "meshdojo:", err)
		return 2
	}
	switch *themeF {
	case tui.ThemeAuto, tui.ThemeDark, tui.ThemeLight:
	default:
		fmt.Fprintf(io.Err, "meshdojo: --theme %q is not one of auto, dark, light\n", *themeF)
		return 2
	}
	t, err := resolve(*ctxF, *kcF)
	if err != nil {
		fmt.Fprintln(io.Err, "meshdojo:", err)
		return 1
	}
	stepSet := given(fs, "step")
	if stepSet && *lessonF == "" {
		fmt.Fprintln(io.Err, "meshdojo: --step needs --lesson, for example: meshdojo --lesson 6 --step 2")
		return 2
	}
	if *lessonF != "" {
		l, err := findLesson(t.all, *lessonF)
		if err == nil && stepSet {
			err = checkStep(l, *stepF)
		}
		if err != nil {
			fmt.Fprintln(io.Err, "meshdojo:", err)
			return 2
		}
	}
	if !io.IsTTY {
		fmt.Fprintln(io.Err, "meshdojo: the tutorial needs a terminal, and this is not one.")
		fmt.Fprintln(io.Err, "Without a terminal you can still read the lessons:")
		fmt.Fprintln(io.Err, "  meshdojo list                        lessons and your progress")
		fmt.Fprintln(io.Err, "  meshdojo show --lesson 6 [--step 2]  a lesson or one step as plain text")
		return 1
	}

	prog, perr := t.store.Load(t.context)
	warning := ""
	if perr != nil {
		warning = perr.Error()
	}
	store := t.store
	opts := t.opts
	// Published only once presenter mode is on; removed when we quit.
	pub := presence.NewPublisher("", time.Now())
	defer pub.Close()
	var breaker tui.Breaks
	if store.Err() == nil {
		breaker = func(context.Context) (*breaks.Client, error) { return breakClient(t, *allowProd) }
	}
	m := tui.New(tui.Options{
		Present:   *presentF,
		Presenter: pub,
		Lessons:   t.all,
		Lesson:    *lessonF,
		Step:      *stepF,
		Theme:     *themeF,
		NoColor:   os.Getenv("NO_COLOR") != "",
		Context:   t.context,
		Progress:  prog,
		Save:      store.Save,
		Warning:   warning,
		Breaks:    breaker,
		Connect: func(ctx context.Context) (checks.Runner, error) {
			c, err := cluster.Connect(ctx, opts)
			if err != nil {
				return nil, err
			}
			e := c.Engine()
			e.Traffic = settings
			return e, nil
		},
	})
	p := tea.NewProgram(m, tea.WithInput(io.In), tea.WithOutput(io.Out))
	_, runErr := p.Run()
	// A probe interrupted by q, ctrl+c or SIGTERM deletes its pod as it
	// stops; wait for that so nothing is left in the reader's cluster.
	if !m.Shutdown(20 * time.Second) {
		fmt.Fprintln(io.Err, "meshdojo: a probe did not finish cleaning up; list leftovers with: kubectl get pods -A -l app.kubernetes.io/managed-by=meshdojo")
	}
	// A last save after the terminal is restored: the UI saves as it
	// goes, but this catches anything still in flight. Saves merge only
	// this instance's changes, so a background save finishing later
	// cannot undo it.
	if err := store.Save(m.Progress()); err != nil {
		fmt.Fprintln(io.Err, "meshdojo:", err)
	}
	if runErr != nil && !errors.Is(runErr, tea.ErrProgramKilled) {
		fmt.Fprintln(io.Err, "meshdojo:", runErr)
		return 1
	}
	return 0
}

// confirm asks a yes/no question on in; anything but yes is no, and so
// is a closed input (CI, pipes), so nothing happens without consent.
func confirm(in io.Reader, out io.Writer, question string) bool {
	fmt.Fprint(out, question+" [y/N] ")
	var b strings.Builder
	buf := make([]byte, 1)
	for {
		n, err := in.Read(buf)
		if n == 1 {
			if buf[0] == '\n' {
				break
			}
			b.WriteByte(buf[0])
		}
		if err != nil {
			fmt.Fprintln(out)
			break
		}
	}
	a := strings.ToLower(strings.TrimSpace(b.String()))
	return a == "y" || a == "yes"
}
