package fakelab

// The thin layer between the simulator and an API server: informers on
// the kinds the simulator reads, and a World rebuilt from their caches
// whenever one of them changes.

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

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
	{Group: "security.istio.io", Version: "v1", Resource: "peerauthentications"},
	{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"},
}

// Live is a Source kept up to date from an API server.
type Live struct {
	informers []cache.SharedIndexInformer
	dirty     atomic.Bool
	mu        sync.Mutex
	world     *World
	err       error
}

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
	l := &Live{}
	l.dirty.Store(true)
	mark := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { l.dirty.Store(true) },
		UpdateFunc: func(any, any) { l.dirty.Store(true) },
		DeleteFunc: func(any) { l.dirty.Store(true) },
	}
	var core []cache.InformerSynced
	for _, gvr := range Read {
		inf := f.ForResource(gvr).Informer()
		inf.AddEventHandler(mark)
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
		if l.dirty.Swap(false) || l.world == nil {
			var objs []*unstructured.Unstructured
			for _, inf := range l.informers {
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
