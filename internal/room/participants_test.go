package room

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func kubeconfig(contexts ...string) string {
	s := "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: \"https://127.0.0.1:1\"}}]\nusers: [{name: u, user: {token: x}}]\ncontexts:\n"
	for _, c := range contexts {
		s += "- {name: " + c + ", context: {cluster: c, user: u}}\n"
	}
	return s
}

func write(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func names(ps []Participant) string {
	var s []string
	for _, p := range ps {
		s = append(s, p.Name+"="+filepath.Base(p.Opts.Kubeconfig)+"/"+p.Opts.Context)
	}
	return strings.Join(s, " ")
}

func TestParticipants(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "alice.yaml", kubeconfig("minikube"))
	write(t, dir, "bob.kubeconfig", kubeconfig("kind-bob"))
	write(t, dir, ".swp", "junk")
	os.Mkdir(filepath.Join(dir, "sub"), 0o700)
	multi := write(t, t.TempDir(), "class.yaml", kubeconfig("team-2", "team-1"))

	ps, err := Participants([]string{dir, multi}, "")
	if err != nil {
		t.Fatal(err)
	}
	want := "alice=alice.yaml/minikube bob=bob.kubeconfig/kind-bob team-1=class.yaml/team-1 team-2=class.yaml/team-2"
	if got := names(ps); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}

	// --context picks one context in every file; the file names them.
	ps, err = Participants([]string{multi}, "team-2")
	if err != nil || names(ps) != "class=class.yaml/team-2" {
		t.Errorf("--context: %s, %v", names(ps), err)
	}

	for _, tc := range []struct {
		paths   []string
		context string
		want    string
	}{
		{nil, "", "no kubeconfigs given"},
		{[]string{filepath.Join(dir, "nobody.yaml")}, "", "nobody.yaml"},
		{[]string{multi}, "team-3", `has no context "team-3" (it has team-1, team-2)`},
		{[]string{write(t, t.TempDir(), "alice.yml", kubeconfig("x")), filepath.Join(dir, "alice.yaml")}, "", `two participants are called "alice"`},
		{[]string{write(t, t.TempDir(), "empty.yaml", kubeconfig())}, "", "has no contexts"},
		{[]string{t.TempDir()}, "", "has no files"},
	} {
		_, err := Participants(tc.paths, tc.context)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %q: %v, want %q", tc.paths, tc.context, err, tc.want)
		}
	}
}
