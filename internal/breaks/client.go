package breaks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	udiff "github.com/aymanbagabas/go-udiff"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

// Client writes and restores breaks in one kube context.
type Client struct {
	Dyn     dynamic.Interface
	Context string // the kube context's name, for the production rule and the records
	Server  string // the API server's URL, for the production rule
	Dir     string // meshdojo's state directory; records go to Dir/breaks
	// AllowProduction lets a break run on a context that looks like
	// production (--allow-production).
	AllowProduction bool
	Now             func() time.Time
}

// New returns a client for the cluster cfg reaches.
func New(cfg *rest.Config, context, dir string, allowProduction bool) (*Client, error) {
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &Client{Dyn: dyn, Context: context, Server: cfg.Host, Dir: dir, AllowProduction: allowProduction}, nil
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// refuse is the production rule, as an error.
func (c *Client) refuse() error {
	if c.AllowProduction {
		return nil
	}
	if prod, why := Production(c.Context, c.Server); prod {
		return &ProductionError{Context: c.Context, Why: why}
	}
	return nil
}

// Plan is what a break would do, computed by a server-side dry run: the
// reader sees Diff and agrees (or not) before Apply.
type Plan struct {
	ID      string
	Objects []*unstructured.Unstructured // as the break writes them, labelled
	Diff    string                       // unified diff, current state to the dry run's result
}

func (c *Client) resource(o *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	k, ok := KindOf(o.GetAPIVersion(), o.GetKind())
	if !ok {
		return nil, fmt.Errorf("a break may not write %s %s", o.GetAPIVersion(), o.GetKind())
	}
	return c.Dyn.Resource(k.GVR).Namespace(o.GetNamespace()), nil
}

// labelled is o with the break's label added.
func labelled(id string, o *unstructured.Unstructured) *unstructured.Unstructured {
	o = o.DeepCopy()
	l := o.GetLabels()
	if l == nil {
		l = map[string]string{}
	}
	l[Label] = id
	o.SetLabels(l)
	return o
}

// Plan asks the API server what the break's objects would become
// (server-side apply, dry run, against the cluster as it is now) and
// returns the difference. It writes nothing.
func (c *Client) Plan(ctx context.Context, id string, objs []*unstructured.Unstructured) (*Plan, error) {
	if err := c.refuse(); err != nil {
		return nil, err
	}
	p := &Plan{ID: id}
	var diffs []string
	for _, o := range objs {
		o = labelled(id, o)
		p.Objects = append(p.Objects, o)
		ri, err := c.resource(o)
		if err != nil {
			return nil, err
		}
		before := ""
		cur, err := ri.Get(ctx, o.GetName(), metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			return nil, fmt.Errorf("reading %s: %w", describe(o), err)
		default:
			before = Encode(shown(cur.Object))
		}
		after, err := ri.Apply(ctx, o.GetName(), o, metav1.ApplyOptions{FieldManager: Manager, Force: true, DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			return nil, fmt.Errorf("dry run of %s: %w", describe(o), err)
		}
		d := udiff.Unified(describe(o)+" (now)", describe(o)+" (after the break)", before, Encode(shown(after.Object)))
		if d == "" {
			d = "--- " + describe(o) + ": no change\n"
		}
		diffs = append(diffs, d)
	}
	p.Diff = strings.Join(diffs, "")
	return p, nil
}

// Apply writes a planned break: the records first (what each object was
// before), then every object by server-side apply. Applying a break that
// is already in place writes its objects again but keeps the state
// recorded the first time, so restoring still goes back to before it.
func (c *Client) Apply(ctx context.Context, p *Plan) error {
	if err := c.refuse(); err != nil {
		return err
	}
	var created []int
	err := c.locked(func(r *Records) (bool, error) {
		rec := Record{ID: p.ID, At: c.now().UTC().Round(0)}
		known := -1
		for i, b := range r.Breaks {
			if b.ID == p.ID {
				known = i
			}
		}
		for _, o := range p.Objects {
			w := Written{APIVersion: o.GetAPIVersion(), Kind: o.GetKind(), Namespace: o.GetNamespace(), Name: o.GetName()}
			if known >= 0 {
				if prev, ok := find(r.Breaks[known].Objects, w); ok {
					rec.Objects = append(rec.Objects, prev)
					continue
				}
			}
			if first, ok := earliest(r, w, p.ID); ok {
				// An earlier break changed this object and was fixed by
				// the reader rather than restored: what was there before
				// any break is what restoring goes back to.
				rec.Objects = append(rec.Objects, first)
				continue
			}
			ri, err := c.resource(o)
			if err != nil {
				return false, err
			}
			cur, err := ri.Get(ctx, o.GetName(), metav1.GetOptions{})
			switch {
			case apierrors.IsNotFound(err):
				w.Created = true
				created = append(created, len(rec.Objects))
			case err != nil:
				return false, fmt.Errorf("reading %s: %w", w, err)
			default:
				w.Previous = trimmed(cur.Object)
			}
			rec.Objects = append(rec.Objects, w)
		}
		if known >= 0 {
			rec.At = r.Breaks[known].At
			r.Breaks[known] = rec
		} else {
			r.Breaks = append(r.Breaks, rec)
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	// The records hold what to restore; now write.
	uids := map[int]string{}
	var errs []error
	for i, o := range p.Objects {
		ri, err := c.resource(o)
		if err == nil {
			var got *unstructured.Unstructured
			got, err = ri.Apply(ctx, o.GetName(), o, metav1.ApplyOptions{FieldManager: Manager, Force: true})
			if err == nil {
				uids[i] = string(got.GetUID())
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("writing %s: %w", describe(o), err))
		}
	}
	if len(created) > 0 {
		err := c.locked(func(r *Records) (bool, error) {
			for bi := range r.Breaks {
				if r.Breaks[bi].ID != p.ID {
					continue
				}
				for _, i := range created {
					if uid, ok := uids[i]; ok && i < len(r.Breaks[bi].Objects) {
						r.Breaks[bi].Objects[i].UID = uid
					}
				}
				return true, nil
			}
			return false, nil
		})
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func find(ws []Written, w Written) (Written, bool) {
	for _, x := range ws {
		if x.Kind == w.Kind && x.Namespace == w.Namespace && x.Name == w.Name {
			return x, true
		}
	}
	return Written{}, false
}

// earliest is w as the oldest other break in place recorded it.
func earliest(r *Records, w Written, id string) (Written, bool) {
	for _, b := range r.Breaks {
		if x, ok := find(b.Objects, w); ok && b.ID != id {
			return x, true
		}
	}
	return Written{}, false
}

// Report says what a restore did, object by object.
type Report struct {
	Restored []string // what was put back or deleted
	Kept     []string // what was left as the reader made it, and why
}

func (r *Report) String() string {
	var b strings.Builder
	for _, s := range r.Restored {
		b.WriteString("restored: " + s + "\n")
	}
	for _, s := range r.Kept {
		b.WriteString("kept: " + s + "\n")
	}
	return b.String()
}

// Restore puts back the break id, or every break in place when id is
// "", newest first. A break whose objects were all put back (or were
// left as the reader made them) is removed from the records; one that
// failed stays recorded, so restoring can be tried again.
func (c *Client) Restore(ctx context.Context, id string) (*Report, error) {
	rep := &Report{}
	err := c.locked(func(r *Records) (bool, error) {
		changed := false
		var errs []error
		for bi := len(r.Breaks) - 1; bi >= 0; bi-- {
			b := r.Breaks[bi]
			if id != "" && b.ID != id {
				continue
			}
			var failed []Written
			for oi := len(b.Objects) - 1; oi >= 0; oi-- {
				if err := c.restore(ctx, b.ID, b.Objects[oi], rep); err != nil {
					errs = append(errs, err)
					failed = append([]Written{b.Objects[oi]}, failed...)
				}
			}
			changed = true
			if len(failed) == 0 {
				r.Breaks = append(r.Breaks[:bi], r.Breaks[bi+1:]...)
			} else {
				r.Breaks[bi].Objects = failed
			}
		}
		return changed, errors.Join(errs...)
	})
	return rep, err
}

// restore puts back one object (see the package documentation).
func (c *Client) restore(ctx context.Context, id string, w Written, rep *Report) error {
	k, ok := KindOf(w.APIVersion, w.Kind)
	if !ok {
		return fmt.Errorf("%s: a break may not write kind %s", w, w.Kind)
	}
	ri := c.Dyn.Resource(k.GVR).Namespace(w.Namespace)
	cur, err := ri.Get(ctx, w.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		if w.Created {
			rep.Restored = append(rep.Restored, w.String()+": already gone")
		} else {
			rep.Kept = append(rep.Kept, w.String()+": deleted since the break; not brought back")
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading %s: %w", w, err)
	}
	if w.Created {
		switch {
		case w.UID != "" && string(cur.GetUID()) != w.UID:
			rep.Kept = append(rep.Kept, w.String()+": not the object the break created (deleted and made again since); not deleted")
			return nil
		case cur.GetLabels()[Label] != id:
			rep.Kept = append(rep.Kept, w.String()+": no longer labelled "+Label+"="+id+"; not deleted")
			return nil
		}
		uid := cur.GetUID()
		err := ri.Delete(ctx, w.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting %s: %w", w, err)
		}
		rep.Restored = append(rep.Restored, w.String()+": deleted (the break created it)")
		return nil
	}
	owned, err := ownedBy(cur, Manager)
	if err != nil {
		return fmt.Errorf("%s: %w", w, err)
	}
	if owned == nil {
		rep.Kept = append(rep.Kept, w.String()+": every field the break set was changed since; left as it is")
		return nil
	}
	cfg, _ := pick(owned, w.Previous)
	m, _ := cfg.(map[string]any)
	if m == nil {
		m = map[string]any{}
	}
	m["apiVersion"], m["kind"] = w.APIVersion, w.Kind
	md, _ := m["metadata"].(map[string]any)
	if md == nil {
		md = map[string]any{}
	}
	md["name"], md["namespace"] = w.Name, w.Namespace
	m["metadata"] = md
	kept := changedSince(cur, w.Previous, owned)
	got, err := ri.Apply(ctx, w.Name, &unstructured.Unstructured{Object: m}, metav1.ApplyOptions{FieldManager: Manager, Force: true})
	if err != nil {
		return fmt.Errorf("restoring %s: %w", w, err)
	}
	if err := c.release(ctx, ri, got); err != nil {
		return fmt.Errorf("restoring %s: %w", w, err)
	}
	msg := w.String() + ": the fields the break set are as before it"
	rep.Restored = append(rep.Restored, msg)
	if len(kept) > 0 {
		rep.Kept = append(rep.Kept, w.String()+": changed by you since the break, kept: "+strings.Join(kept, ", "))
	}
	return nil
}

// release drops the break's field manager from an object it restored,
// so the object is left with no trace of the tutorial: the fields it put
// back have no owner, and the next apply by anyone takes them without a
// conflict.
func (c *Client) release(ctx context.Context, ri dynamic.ResourceInterface, o *unstructured.Unstructured) error {
	var keep []any
	for _, e := range o.Object["metadata"].(map[string]any)["managedFields"].([]any) {
		if m, _ := e.(map[string]any); m["manager"] != Manager {
			keep = append(keep, e)
		}
	}
	if len(keep) == 0 {
		return nil // nobody else owns anything: keep the entry rather than reset
	}
	patch, err := json.Marshal([]map[string]any{
		{"op": "test", "path": "/metadata/resourceVersion", "value": o.GetResourceVersion()},
		{"op": "replace", "path": "/metadata/managedFields", "value": keep},
	})
	if err != nil {
		return err
	}
	_, err = ri.Patch(ctx, o.GetName(), types.JSONPatchType, patch, metav1.PatchOptions{})
	if apierrors.IsInvalid(err) || apierrors.IsConflict(err) {
		return nil // changed meanwhile: the restore itself stands
	}
	return err
}

func describe(o *unstructured.Unstructured) string {
	return o.GetKind() + " " + o.GetNamespace() + "/" + o.GetName()
}

// shown is an object as a diff shows it: without what the API server
// keeps for itself.
func shown(o map[string]any) map[string]any {
	o = trimmed(o)
	if md, ok := o["metadata"].(map[string]any); ok {
		delete(md, "uid")
	}
	return o
}

// trimmed is a copy of an object without status and the metadata the
// API server writes.
func trimmed(o map[string]any) map[string]any {
	c := (&unstructured.Unstructured{Object: o}).DeepCopy().Object
	delete(c, "status")
	if md, ok := c["metadata"].(map[string]any); ok {
		for _, k := range []string{"managedFields", "resourceVersion", "generation", "creationTimestamp"} {
			delete(md, k)
		}
		if a, ok := md["annotations"].(map[string]any); ok {
			delete(a, "kubectl.kubernetes.io/last-applied-configuration")
			if len(a) == 0 {
				delete(md, "annotations")
			}
		}
	}
	return c
}
