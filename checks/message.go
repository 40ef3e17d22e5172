package checks

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"
)

// A check's results are data, as istioctl's analysis messages are: each
// Code declares the template of the summary it reports, with fmt verbs
// for its arguments, and what it means. A check builds a result only
// through a message of a code (Message0 to Message5, made by Msg0 to
// Msg5), whose type parameters are the types of the template's
// arguments: the compiler holds every call to them, Code.Fits holds the
// template to them, and Check.Conforms holds a result to its code. So a
// code's text lives in one place, next to its description, and `meshdojo
// check --list` lists both from the declarations.

// Message0 is a code whose template takes no argument.
type Message0 struct{ Code }

// Msg0 declares a code whose summary is its template as it stands.
func Msg0(c Code) Message0 { c.args = []reflect.Type{}; return Message0{c} }

// Result is the code's result, with the conditions it compared.
func (m Message0) Result(conds ...Condition) Result { return m.result(nil, conds) }

// Message1 is a code whose template takes one argument of type A.
type Message1[A any] struct{ Code }

// Msg1 declares a code whose template takes one argument of type A.
func Msg1[A any](c Code) Message1[A] { c.args = argTypes(new(A)); return Message1[A]{c} }

// Result is the code's result for a, with the conditions it compared.
func (m Message1[A]) Result(a A, conds ...Condition) Result { return m.result([]any{a}, conds) }

// Message2 is a code whose template takes arguments of types A and B.
type Message2[A, B any] struct{ Code }

// Msg2 declares a code whose template takes arguments of types A and B.
func Msg2[A, B any](c Code) Message2[A, B] {
	c.args = argTypes(new(A), new(B))
	return Message2[A, B]{c}
}

// Result is the code's result for a and b, with the conditions it compared.
func (m Message2[A, B]) Result(a A, b B, conds ...Condition) Result {
	return m.result([]any{a, b}, conds)
}

// Message3 is a code whose template takes arguments of types A, B and C.
type Message3[A, B, C any] struct{ Code }

// Msg3 declares a code whose template takes arguments of types A, B and C.
func Msg3[A, B, C any](c Code) Message3[A, B, C] {
	c.args = argTypes(new(A), new(B), new(C))
	return Message3[A, B, C]{c}
}

// Result is the code's result for a, b and c, with the conditions it compared.
func (m Message3[A, B, C]) Result(a A, b B, c C, conds ...Condition) Result {
	return m.result([]any{a, b, c}, conds)
}

// Message4 is a code whose template takes four arguments.
type Message4[A, B, C, D any] struct{ Code }

// Msg4 declares a code whose template takes arguments of types A, B, C and D.
func Msg4[A, B, C, D any](c Code) Message4[A, B, C, D] {
	c.args = argTypes(new(A), new(B), new(C), new(D))
	return Message4[A, B, C, D]{c}
}

// Result is the code's result for a, b, c and d, with the conditions it compared.
func (m Message4[A, B, C, D]) Result(a A, b B, c C, d D, conds ...Condition) Result {
	return m.result([]any{a, b, c, d}, conds)
}

// Message5 is a code whose template takes five arguments.
type Message5[A, B, C, D, E any] struct{ Code }

// Msg5 declares a code whose template takes arguments of types A to E.
func Msg5[A, B, C, D, E any](c Code) Message5[A, B, C, D, E] {
	c.args = argTypes(new(A), new(B), new(C), new(D), new(E))
	return Message5[A, B, C, D, E]{c}
}

// Result is the code's result for a to e, with the conditions it compared.
func (m Message5[A, B, C, D, E]) Result(a A, b B, c C, d D, e E, conds ...Condition) Result {
	return m.result([]any{a, b, c, d, e}, conds)
}

func (c Code) result(args []any, conds []Condition) Result {
	return Result{Verdict: c.Verdict, Code: c.ID, Summary: c.render(args), Conditions: conds, At: time.Now(), args: args}
}

func (c Code) render(args []any) string {
	if len(args) == 0 {
		// A template without verbs is the text itself: %% stays as written.
		return strings.ReplaceAll(c.Template, "%%", "%")
	}
	return fmt.Sprintf(c.Template, args...)
}

// argTypes turns pointers to zero values into the types they point to;
// an interface type (error) is kept as the interface, not a dynamic type.
func argTypes(ptrs ...any) []reflect.Type {
	ts := make([]reflect.Type, len(ptrs))
	for i, p := range ptrs {
		ts[i] = reflect.TypeOf(p).Elem()
	}
	return ts
}

// Args are the arguments a result's summary was made from: the ones its
// code's template was filled with.
func (r Result) Args() []any { return r.args }

var (
	stringerType = reflect.TypeFor[fmt.Stringer]()
	errorType    = reflect.TypeFor[error]()
)

// Fits says why the code's template does not fit the arguments it is
// declared with (nil when it does): a code made without Msg0..Msg5, a
// template with more or fewer verbs than arguments, or a verb that does
// not suit its argument's type (%d for a string).
func (c Code) Fits() error {
	if c.args == nil {
		return fmt.Errorf("code %s is declared without its arguments' types: declare it with checks.Msg0 to Msg5", c.ID)
	}
	if strings.TrimSpace(c.Template) == "" {
		return fmt.Errorf("code %s has no template", c.ID)
	}
	verbs, err := templateVerbs(c.Template)
	if err != nil {
		return fmt.Errorf("code %s: %w", c.ID, err)
	}
	if len(verbs) != len(c.args) {
		return fmt.Errorf("code %s: its template %q has %d verbs for %d arguments", c.ID, c.Template, len(verbs), len(c.args))
	}
	for i, v := range verbs {
		if !suits(v, c.args[i]) {
			return fmt.Errorf("code %s: verb %%%c of its template %q does not suit argument %d, a %v", c.ID, v, c.Template, i+1, c.args[i])
		}
	}
	return nil
}

// templateVerbs lists the verbs of a fmt template, in order. Explicit
// argument indexes and * widths are refused: each verb takes the next
// argument, so the count says it all.
func templateVerbs(t string) ([]rune, error) {
	var verbs []rune
	for i := 0; i < len(t); i++ {
		if t[i] != '%' {
			continue
		}
		j := i + 1
		for j < len(t) && strings.IndexByte("+-# 0123456789.", t[j]) >= 0 {
			j++
		}
		if j == len(t) {
			return nil, errors.New("the template ends in the middle of a verb")
		}
		switch t[j] {
		case '%':
		case '[', '*':
			return nil, fmt.Errorf("verb %q: use one verb per argument, in order", t[i:j+1])
		default:
			verbs = append(verbs, rune(t[j]))
		}
		i = j
	}
	return verbs, nil
}

func suits(verb rune, t reflect.Type) bool {
	text := t.Kind() == reflect.String || t.Implements(stringerType) || t.Implements(errorType)
	switch verb {
	case 'v':
		return true
	case 's', 'q':
		return text || (t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String)
	case 'd':
		switch t.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			return true
		}
	case 'f', 'g', 'e':
		return t.Kind() == reflect.Float64 || t.Kind() == reflect.Float32
	case 't':
		return t.Kind() == reflect.Bool
	}
	return false
}

// Conforms says why r is not what one of the check's codes makes of its
// arguments (nil when it is): its code must be declared (by the check or
// in CommonCodes), its verdict the code's, and its summary the code's
// template filled with the arguments the result carries. A result whose
// summary was written by hand has no arguments, and so conforms only
// when its code's template takes none and reads the same.
func (c *Check) Conforms(r Result) error {
	code, ok := c.CodeOf(r.Code)
	if !ok {
		return fmt.Errorf("code %q is not one %s declares", r.Code, c.Name)
	}
	if r.Verdict != code.Verdict {
		return fmt.Errorf("code %s is declared %s, but the result is %s", code.ID, code.Verdict, r.Verdict)
	}
	if err := code.Fits(); err != nil {
		return err
	}
	if len(r.args) != len(code.args) {
		return fmt.Errorf("code %s takes %d arguments, the result carries %d (summary %q: written by hand rather than by its message?)", code.ID, len(code.args), len(r.args), r.Summary)
	}
	for i, a := range r.args {
		if a != nil && !reflect.TypeOf(a).AssignableTo(code.args[i]) {
			return fmt.Errorf("code %s: argument %d is a %T, want %v", code.ID, i+1, a, code.args[i])
		}
	}
	want := code.render(r.args)
	if r.Summary != want && r.Summary != oneLine(want) {
		return fmt.Errorf("code %s: summary %q is not its template %q filled with %v", code.ID, r.Summary, code.Template, r.args)
	}
	return nil
}

// CodeOf finds a code the check may report, its own or a shared one.
func (c *Check) CodeOf(id string) (Code, bool) {
	for _, cs := range [][]Code{c.Codes, CommonCodes} {
		for _, x := range cs {
			if x.ID == id {
				return x, true
			}
		}
	}
	return Code{}, false
}
