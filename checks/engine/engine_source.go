package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/cache"

	"github.com/meshdojo/meshdojo/checks"
)

// sourceKey identifies one informer: the objects of one input, with the
// resource at the version the check declared (the version actually read
// may differ, see ResolveVersion).
type sourceKey struct {
	GVR       schema.GroupVersionResource
	Namespace string
	Selector  string
}

func keyOf(in checks.Input) sourceKey { return sourceKey{in.GVR, in.Namespace, in.Selector} }

func (k sourceKey) String() string {
	return checks.Input{GVR: k.GVR, Namespace: k.Namespace, Selector: k.Selector}.String()
}

// source is one running informer, shared by every Watch that reads the
// same input, with what its last list or watch request said.
type source struct {
	e    *Engine
	key  sourceKey
	refs int // guarded by e.mu

	restarting sync.Mutex // one restart at a time: two would leak an informer
	mu         sync.Mutex
	gvr        schema.GroupVersionResource // the version read
	inf        cache.SharedIndexInformer
	cancel     context.CancelFunc
	done       chan struct{} // closed when every goroutine of inf has ended
	gen        int           // bumped on (re)start and stop; older callbacks are ignored
	err        error         // why the last request failed; nil when healthy
	wake       chan struct{} // closed and replaced on every change of state
	subs       map[*watcher]struct{}
	closed     bool // released by its last reader: a late restart must not start it again
}

const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// trim drops what no check reads and what makes up most of an object's
// size: managed fields and kubectl's copy of the last applied object.
func trim(obj any) (any, error) {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		u.SetManagedFields(nil)
		if a := u.GetAnnotations(); a[lastApplied] != "" {
			delete(a, lastApplied)
			u.SetAnnotations(a)
		}
	}
	return obj, nil
}

// start runs a new informer for the source; info resolves the version.
func (s *source) start(info checks.ClusterInfo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.gen++
	gen := s.gen
	gvr := ResolveVersion(info, s.key.GVR)
	s.gvr = gvr
	if s.wake == nil {
		s.wake = make(chan struct{})
	}
	if s.e.dyn == nil {
		s.err = &checks.UnreachableError{Server: info.Server, Err: errors.New("not connected to a cluster")}
		return
	}
	var ri dynamic.ResourceInterface = s.e.dyn.Resource(gvr)
	if s.key.Namespace != "" {
		ri = s.e.dyn.Resource(gvr).Namespace(s.key.Namespace)
	}
	sel := s.key.Selector
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.LabelSelector = sel
			ctx, cancel := context.WithTimeout(ctx, s.e.listTimeout())
			defer cancel()
			l, err := ri.List(ctx, o)
			s.result(gen, "list", err)
			return l, err
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.LabelSelector = sel
			w, err := ri.Watch(ctx, o)
			s.result(gen, "watch", err)
			return w, err
		},
	}
	inf := cache.NewSharedIndexInformerWithOptions(
		cache.ToListWatcherWithWatchListSemantics(lw, s.e.dyn),
		&unstructured.Unstructured{},
		cache.SharedIndexInformerOptions{ObjectDescription: gvr.String()},
	)
	_ = inf.SetTransform(trim)
	// The list and watch wrappers above record failures; the default
	// handler would only log them.
	_ = inf.SetWatchErrorHandlerWithContext(func(context.Context, *cache.Reflector, error) {})
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerDetailedFuncs{
		AddFunc: func(_ any, initial bool) {
			if !initial { // the initial list is announced once, when synced
				s.changed(gen)
			}
		},
		UpdateFunc: func(any, any) { s.changed(gen) },
		DeleteFunc: func(any) { s.changed(gen) },
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { inf.RunWithContext(ctx) })
	wg.Go(func() {
		select {
		case <-inf.HasSyncedChecker().Done():
			s.changed(gen)
		case <-ctx.Done():
		}
	})
	go func() { wg.Wait(); close(done) }()
	s.inf, s.cancel, s.done, s.err = inf, cancel, done, nil
}

// stop ends the informer and waits for its goroutines.
func (s *source) stop() {
	s.mu.Lock()
	s.gen++
	cancel, done := s.cancel, s.done
	s.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// restart replaces a failing informer by a fresh one, which lists at once
// instead of waiting for the old one's back-off.
func (s *source) restart(info checks.ClusterInfo) {
	s.restarting.Lock()
	defer s.restarting.Unlock()
	s.stop()
	s.start(info)
	s.changed(s.generation())
}

func (s *source) generation() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gen
}

// result records the outcome of a list or watch request.
func (s *source) result(gen int, verb string, err error) {
	var mapped error
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return // the informer is stopping
		}
		if verb == "watch" && (apierrors.IsResourceExpired(err) || apierrors.IsGone(err)) {
			return // routine: the reflector lists again
		}
		mapped = classify(s.e.Info().Server, err, s.currentGVR(), s.key.Namespace, verb)
		if errors.Is(mapped, checks.ErrUnreachable) {
			s.e.suspect()
		}
	}
	s.mu.Lock()
	if gen != s.gen {
		s.mu.Unlock()
		return
	}
	was := s.err
	s.err = mapped
	s.mu.Unlock()
	if (was == nil) != (mapped == nil) || (was != nil && was.Error() != mapped.Error()) {
		s.changed(gen)
	}
}

func (s *source) currentGVR() schema.GroupVersionResource {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gvr
}

// changed wakes whoever waits for the source and the watchers reading it.
func (s *source) changed(gen int) {
	s.mu.Lock()
	if gen != s.gen {
		s.mu.Unlock()
		return
	}
	close(s.wake)
	s.wake = make(chan struct{})
	subs := make([]*watcher, 0, len(s.subs))
	for w := range s.subs {
		subs = append(subs, w)
	}
	s.mu.Unlock()
	for _, w := range subs {
		w.changed(s)
	}
}

func (s *source) subscribe(w *watcher) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.subs == nil {
		s.subs = map[*watcher]struct{}{}
	}
	s.subs[w] = struct{}{}
}

func (s *source) unsubscribe(w *watcher) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.subs, w)
}

// failing returns the error of the source's last request, if it failed.
func (s *source) failing() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// wait blocks until the informer holds a complete list, or returns why it
// cannot: the failure of its last request, or ctx ending first.
func (s *source) wait(ctx context.Context) error {
	for {
		s.mu.Lock()
		err, wake, inf := s.err, s.wake, s.inf
		s.mu.Unlock()
		if err != nil {
			return err
		}
		if inf.HasSynced() {
			return nil
		}
		select {
		case <-inf.HasSyncedChecker().Done():
		case <-wake:
		case <-ctx.Done():
			return &checks.UnreachableError{Server: s.e.Info().Server, Err: fmt.Errorf("no complete answer for %s: %w", s.key, ctx.Err())}
		}
	}
}

// list returns copies of the cached objects, sorted by namespace and name
// like an API list, so checks may change them and report stable orders.
func (s *source) list() []*unstructured.Unstructured {
	s.mu.Lock()
	inf := s.inf
	s.mu.Unlock()
	objs := inf.GetStore().List()
	out := make([]*unstructured.Unstructured, 0, len(objs))
	for _, o := range objs {
		if u, ok := o.(*unstructured.Unstructured); ok {
			out = append(out, u.DeepCopy())
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if a, b := out[i].GetNamespace(), out[j].GetNamespace(); a != b {
			return a < b
		}
		return out[i].GetName() < out[j].GetName()
	})
	return out
}

// acquire returns the source for key, starting its informer if no Watch
// reads it yet, and subscribes w to its changes.
func (e *Engine) acquire(key sourceKey, w *watcher) *source {
	e.mu.Lock()
	s := e.sources[key]
	if s == nil {
		s = &source{e: e, key: key}
		s.start(e.info)
		e.sources[key] = s
	}
	s.refs++
	e.mu.Unlock()
	s.subscribe(w)
	return s
}

// release undoes acquire; the last reader stops the informer.
func (e *Engine) release(s *source, w *watcher) {
	s.unsubscribe(w)
	e.mu.Lock()
	s.refs--
	last := s.refs == 0
	if last {
		delete(e.sources, s.key)
	}
	e.mu.Unlock()
	if last {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.stop()
	}
}
