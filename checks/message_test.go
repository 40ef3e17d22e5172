package checks

import (
	"errors"
	"strings"
	"testing"
)

func TestFits(t *testing.T) {
	for _, tc := range []struct {
		name string
		code Code
		want string // a text of the error, "" when it fits
	}{
		{"two fitting verbs", Msg2[string, int](Code{ID: "X1", Template: "%s has %d pods"}).Code, ""},
		{"percent sign", Msg1[float64](Code{ID: "X1", Template: "%.1f%% of requests"}).Code, ""},
		{"error as text", Msg1[error](Code{ID: "X1", Template: "cannot read: %s"}).Code, ""},
		{"stringer as text", Msg1[Verdict](Code{ID: "X1", Template: "the verdict is %s"}).Code, ""},
		{"no verbs", Msg0(Code{ID: "X1", Template: "all fine"}).Code, ""},
		{"too few verbs", Msg2[string, int](Code{ID: "X1", Template: "%s has pods"}).Code, "1 verbs for 2 arguments"},
		{"too many verbs", Msg1[string](Code{ID: "X1", Template: "%s has %d pods"}).Code, "2 verbs for 1 arguments"},
		{"wrong verb", Msg2[string, string](Code{ID: "X1", Template: "%s has %d pods"}).Code, "does not suit argument 2"},
		{"indexed verb", Msg1[string](Code{ID: "X1", Template: "%[1]s"}).Code, "one verb per argument"},
		{"not a message", Code{ID: "X1", Template: "%s"}, "without its arguments' types"},
		{"no template", Msg0(Code{ID: "X1"}).Code, "no template"},
	} {
		err := tc.code.Fits()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: got %v, want an error saying %q", tc.name, err, tc.want)
		}
	}
}

func TestConforms(t *testing.T) {
	ok := Msg2[string, int](Code{ID: "X1", Verdict: Pass, Template: "%s has %d pods", Doc: "d"})
	bad := Msg1[string](Code{ID: "X2", Verdict: Fail, Template: "%s is missing", Doc: "d"})
	c := &Check{Name: "c", Codes: []Code{ok.Code, bad.Code}}

	if err := c.Conforms(ok.Result("reviews", 3)); err != nil {
		t.Errorf("a message's own result: %v", err)
	}
	if err := c.Conforms(ErrorResult(errors.New("boom"))); err != nil {
		t.Errorf("a shared code's result: %v", err)
	}
	long := ok.Result(strings.Repeat("a very   long name ", 30), 1)
	Finish(&long, c, nil)
	if err := c.Conforms(long); err != nil {
		t.Errorf("a result Finish cut to one line: %v", err)
	}

	hand := Result{Verdict: Fail, Code: "X2", Summary: "reviews is missing"}
	edited := bad.Result("reviews")
	edited.Summary += " (and 2 more)"
	flipped := bad.Result("reviews")
	flipped.Verdict = Pass
	other := Msg1[string](Code{ID: "X3", Verdict: Fail, Template: "%s", Doc: "d"}).Result("x")
	for name, tc := range map[string]struct {
		r    Result
		want string
	}{
		"written by hand": {hand, "written by hand"},
		"edited summary":  {edited, "is not its template"},
		"another verdict": {flipped, "declared fail"},
		"undeclared code": {other, "not one c declares"},
	} {
		if err := c.Conforms(tc.r); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error saying %q", name, err, tc.want)
		}
	}
}
