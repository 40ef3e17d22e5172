package fakelab

// The thin layer between the simulator and an API server: informers on
// the kinds the simulator reads, and a World rebuilt from their caches
// whenever one of them changes.

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

// Read are the resources the simulator reads from an API server.
var Read = []schema.GroupVersionResource{
	{Version: "v1", Resource: "namespaces"},
	{Version: "v1", Resource: "pods"},
	{Version: "v1", Resource: "services"},
	{Version: "v1", Resource: "configmaps"},
	{Group: "networking.istio.io", Version: "v1", Resource: "gateways"},
	{Group: "networking.istio.io", Version: "v1", Resource: "virtualservices"},
	{Group: "networking.istio.io", Version: "v1", Resource: "destinationrules"},
	{Group: "networking.istio.io", Version: "v1", Resource: "sidecars"},
	{Group: "networking.istio.io", Version: "v1", Resource: "serviceentries"},
	{Group: "security.istio.io", Version: "v1", Resource: "peerauthentications"},
	{Group: "security.istio.io", Version: "v1", Resource: "authorizationpolicies"},
	{Group: "security.istio.io", Version: "v1", Resource: "requestauthentications"},
	{Version: "v1", Resource: "secrets"},
	{Group: "telemetry.istio.io", Version: "v1", Resource: "telemetries"},
	{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"},
	{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gateways"},
}

// Live is a Source kept up to date from an API server.
type Live struct {
	dyn       dynamic.Interface
	informers []cache.SharedIndexInformer
	dirty     atomic.Bool
	mu        sync.Mutex
	world     *World
	err       error
	// failed is when each kind's watch last failed (a CRD deleted and
	// re-created): its informer then waits up to 30 s before listing
	// again, so for a minute the kind is listed directly instead.
	failed map[int]time.Time
}

// trustAfter is how long after a watch failure a kind is listed directly.
const trustAfter = time.Minute

// Watch starts informers on the resources in Read and returns a Source
// that follows them, once their first lists are in (or ctx ends). A kind
// whose CRD is not installed is simply empty until it is. The informers
// stop with ctx.
func Watch(ctx context.Context, rc *rest.Config) (*Live, error) {
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return nil, err
	}
	f := dynamicinformer.NewDynamicSharedInformerFactory(dyn, 10*time.Minute)
	l := &Live{dyn: dyn, failed: map[int]time.Time{}}
	l.dirty.Store(true)
	mark := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { l.dirty.Store(true) },
		UpdateFunc: func(any, any) { l.dirty.Store(true) },
		DeleteFunc: func(any) { l.dirty.Store(true) },
	}
	var core []cache.InformerSynced
	for i, gvr := range Read {
		inf := f.ForResource(gvr).Informer()
		inf.AddEventHandler(mark)
		inf.SetWatchErrorHandler(func(_ *cache.Reflector, err error) {
			l.mu.Lock()
			l.failed[i] = time.Now()
			l.mu.Unlock()
			l.dirty.Store(true)
		})
		l.informers = append(l.informers, inf)
		if gvr.Group == "" {
			core = append(core, inf.HasSynced)
		}
	}
	f.Start(ctx.Done())
	// Custom resources may not be served (a fixture deletes a CRD), so
	// only the core kinds are waited for.
	cache.WaitForCacheSync(ctx.Done(), core...)
	return l, ctx.Err()
}

// Source returns the simulator's view of the API server.
func (l *Live) Source() Source {
	return func() (*World, error) {
		l.mu.Lock()
		defer l.mu.Unlock()
		direct := false
		for _, at := range l.failed {
			direct = direct || time.Since(at) < trustAfter
		}
		if l.dirty.Swap(false) || l.world == nil || direct {
			var objs []*unstructured.Unstructured
			for i, inf := range l.informers {
				if at, ok := l.failed[i]; ok && time.Since(at) < trustAfter {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					list, err := l.dyn.Resource(Read[i]).List(ctx, metav1.ListOptions{})
					cancel()
					if err == nil {
						for j := range list.Items {
							objs = append(objs, &list.Items[j])
						}
					}
					continue
				}
				for _, o := range inf.GetStore().List() {
					if u, ok := o.(*unstructured.Unstructured); ok {
						objs = append(objs, u)
					}
				}
			}
			l.world, l.err = FromObjects(objs)
		}
		return l.world, l.err
	}
}
