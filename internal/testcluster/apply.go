package testcluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
)

// fieldManager owns every field the harness writes with server-side apply.
const fieldManager = "testcluster"

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// Apply creates or updates every object in a multi-document YAML (or JSON)
// string, in order, with server-side apply. Namespaced objects without a
// namespace go to "default"; a missing namespace is created. When a
// document has a `status:` it is then written through the status
// subresource, which is how tests stand in for kubelet and controllers. A
// CustomResourceDefinition is waited for until it is Established and its
// kind is served, so later documents may use it.
func (c *Cluster) Apply(ctx context.Context, yaml string) error {
	objs, err := Decode(yaml)
	if err != nil {
		return err
	}
	var pending []string // CRDs applied but not yet waited for
	for i, obj := range objs {
		m, err := c.mapping(obj)
		if meta.IsNoMatchError(err) && len(pending) > 0 {
			// The kind may come from a CRD earlier in this batch.
			if err = c.waitCRDs(ctx, pending); err != nil {
				return err
			}
			pending = nil
			m, err = c.mapping(obj)
		}
		if err == nil {
			err = c.apply(ctx, obj, m)
		}
		if err != nil {
			return fmt.Errorf("testcluster: apply document %d (%s): %w", i+1, describe(obj), err)
		}
		if m.Resource.GroupResource() == crdGVR.GroupResource() {
			pending = append(pending, obj.GetName())
		}
	}
	if len(pending) > 0 {
		return c.waitCRDs(ctx, pending)
	}
	return nil
}

// Delete deletes every object in a multi-document YAML string, last
// document first, and waits until they are gone. Objects that do not
// exist are ignored. Deletion is immediate (grace period 0), as there is no
// kubelet to finish a graceful pod deletion. Deleting a Namespace also
// deletes everything in it, the namespace controller's job in a real
// cluster.
func (c *Cluster) Delete(ctx context.Context, yaml string) error {
	objs, err := Decode(yaml)
	if err != nil {
		return err
	}
	for i := len(objs) - 1; i >= 0; i-- {
		obj := objs[i]
		m, err := c.mapping(obj)
		if meta.IsNoMatchError(err) {
			continue // the kind is not served, so no such object exists
		}
		if err == nil {
			err = c.delete(ctx, obj, m)
		}
		if err != nil {
			return fmt.Errorf("testcluster: delete document %d (%s): %w", i+1, describe(obj), err)
		}
	}
	return nil
}

// Decode splits a multi-document YAML or JSON string into objects,
// skipping empty documents. Every object must have apiVersion, kind and
// metadata.name.
func Decode(yaml string) ([]*unstructured.Unstructured, error) {
	d := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(yaml), 4096)
	var objs []*unstructured.Unstructured
	for n := 1; ; n++ {
		var raw json.RawMessage
		if err := d.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			return nil, fmt.Errorf("testcluster: document %d is not valid YAML: %w", n, err)
		}
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
			continue
		}
		obj := &unstructured.Unstructured{}
		if err := obj.UnmarshalJSON(raw); err != nil {
			return nil, fmt.Errorf("testcluster: document %d: %w", n, err)
		}
		if obj.IsList() {
			l, _ := obj.ToList()
			for i := range l.Items {
				objs = append(objs, &l.Items[i])
			}
			continue
		}
		if obj.GetName() == "" {
			return nil, fmt.Errorf("testcluster: document %d (%s) has no metadata.name", n, obj.GetKind())
		}
		objs = append(objs, obj)
	}
}

func describe(obj *unstructured.Unstructured) string {
	s := obj.GetKind() + " "
	if ns := obj.GetNamespace(); ns != "" {
		s += ns + "/"
	}
	return s + obj.GetName()
}

// mapping finds the resource for obj's kind, refreshing discovery once when
// the kind is unknown (it may have just been added by a CRD).
func (c *Cluster) mapping(obj *unstructured.Unstructured) (*meta.RESTMapping, error) {
	gvk := obj.GroupVersionKind()
	if gvk.Kind == "" || gvk.Version == "" {
		return nil, errors.New("apiVersion and kind are required")
	}
	m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		c.mapper.Reset()
		m, err = c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	return m, err
}

func (c *Cluster) resource(obj *unstructured.Unstructured, m *meta.RESTMapping) dynamic.ResourceInterface {
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		if obj.GetNamespace() == "" {
			obj.SetNamespace("default")
		}
		return c.dyn.Resource(m.Resource).Namespace(obj.GetNamespace())
	}
	obj.SetNamespace("")
	return c.dyn.Resource(m.Resource)
}

func (c *Cluster) apply(ctx context.Context, obj *unstructured.Unstructured, m *meta.RESTMapping) error {
	ri := c.resource(obj, m)
	if ns := obj.GetNamespace(); ns != "" {
		if err := c.ensureNamespace(ctx, ns); err != nil {
			return err
		}
	}
	status, hasStatus := obj.Object["status"]
	body, err := obj.MarshalJSON()
	if err != nil {
		return err
	}
	force := true
	opts := metav1.PatchOptions{FieldManager: fieldManager, Force: &force}
	if _, err := ri.Patch(ctx, obj.GetName(), types.ApplyPatchType, body, opts); err != nil {
		return err
	}
	if !hasStatus || !c.hasStatus(m) {
		return nil
	}
	st := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": obj.GetAPIVersion(),
		"kind":       obj.GetKind(),
		"metadata":   map[string]any{"name": obj.GetName(), "namespace": obj.GetNamespace()},
		"status":     status,
	}}
	if body, err = st.MarshalJSON(); err != nil {
		return err
	}
	if _, err := ri.Patch(ctx, obj.GetName(), types.ApplyPatchType, body, opts, "status"); err != nil {
		return fmt.Errorf("status: %w", err)
	}
	return nil
}

// hasStatus reports whether the resource has a status subresource. Without
// one (some CRDs), status is part of the object and the first apply wrote it.
func (c *Cluster) hasStatus(m *meta.RESTMapping) bool {
	rl, err := c.disc.ServerResourcesForGroupVersion(m.Resource.GroupVersion().String())
	if err != nil {
		return true // let the status write report the problem
	}
	for _, r := range rl.APIResources {
		if r.Name == m.Resource.Resource+"/status" {
			return true
		}
	}
	return false
}

var nsGVR = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}

func (c *Cluster) ensureNamespace(ctx context.Context, ns string) error {
	c.nsMu.Lock()
	known := c.known[ns]
	c.nsMu.Unlock()
	if known {
		return nil
	}
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns},
	}}
	_, err := c.dyn.Resource(nsGVR).Create(ctx, obj, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", ns, err)
	}
	c.nsMu.Lock()
	c.known[ns] = true
	c.nsMu.Unlock()
	return nil
}

// waitCRDs waits until each named CRD is Established and every served
// version is in discovery.
func (c *Cluster) waitCRDs(ctx context.Context, names []string) error {
	var kinds []schema.GroupVersionKind
	for _, name := range names {
		var last error
		err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			crd, err := c.dyn.Resource(crdGVR).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				last = err
				return false, nil
			}
			conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
			for _, cd := range conds {
				cm, _ := cd.(map[string]any)
				if cm["type"] == "Established" && cm["status"] == "True" {
					kinds = append(kinds, servedKinds(crd)...)
					return true, nil
				}
				if cm["type"] == "NamesAccepted" && cm["status"] == "False" {
					return false, fmt.Errorf("CRD %s: names not accepted: %v", name, cm["message"])
				}
			}
			last = fmt.Errorf("CRD %s not Established yet", name)
			return false, nil
		})
		if err != nil {
			if last != nil && !strings.Contains(err.Error(), "names not accepted") {
				err = fmt.Errorf("%w (%v)", err, last)
			}
			return fmt.Errorf("testcluster: waiting for CRD %s: %w", name, err)
		}
	}
	c.mapper.Reset()
	for _, gvk := range kinds {
		err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			if _, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
				c.mapper.Reset()
				return false, nil
			}
			return true, nil
		})
		if err != nil {
			return fmt.Errorf("testcluster: %s is not served by discovery: %w", gvk, err)
		}
	}
	return nil
}

func servedKinds(crd *unstructured.Unstructured) []schema.GroupVersionKind {
	group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
	kind, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "kind")
	vs, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	var out []schema.GroupVersionKind
	for _, v := range vs {
		vm, _ := v.(map[string]any)
		if served, _ := vm["served"].(bool); served {
			name, _ := vm["name"].(string)
			out = append(out, schema.GroupVersionKind{Group: group, Version: name, Kind: kind})
		}
	}
	return out
}

func (c *Cluster) delete(ctx context.Context, obj *unstructured.Unstructured, m *meta.RESTMapping) error {
	ri := c.resource(obj, m)
	zero := int64(0)
	bg := metav1.DeletePropagationBackground
	err := ri.Delete(ctx, obj.GetName(), metav1.DeleteOptions{GracePeriodSeconds: &zero, PropagationPolicy: &bg})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if m.Resource == nsGVR {
		if err := c.finalizeNamespace(ctx, obj.GetName()); err != nil {
			return err
		}
		c.nsMu.Lock()
		delete(c.known, obj.GetName())
		c.nsMu.Unlock()
	}
	return wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := ri.Get(ctx, obj.GetName(), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, nil
	})
}

// finalizeNamespace does what the namespace controller would: delete every
// namespaced object in ns, then drop the "kubernetes" finalizer so the
// namespace itself goes away.
func (c *Cluster) finalizeNamespace(ctx context.Context, ns string) error {
	lists, err := c.disc.ServerPreferredNamespacedResources()
	if err != nil && len(lists) == 0 {
		return fmt.Errorf("discovering namespaced resources: %w", err)
	}
	zero := int64(0)
	bg := metav1.DeletePropagationBackground
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range l.APIResources {
			if !hasVerb(r.Verbs, "deletecollection") {
				continue
			}
			err := c.dyn.Resource(gv.WithResource(r.Name)).Namespace(ns).DeleteCollection(ctx,
				metav1.DeleteOptions{GracePeriodSeconds: &zero, PropagationPolicy: &bg}, metav1.ListOptions{})
			if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsMethodNotSupported(err) {
				return fmt.Errorf("deleting %s in namespace %s: %w", r.Name, ns, err)
			}
		}
	}
	got, err := c.dyn.Resource(nsGVR).Get(ctx, ns, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	unstructured.RemoveNestedField(got.Object, "spec", "finalizers")
	_, err = c.dyn.Resource(nsGVR).Update(ctx, got, metav1.UpdateOptions{}, "finalize")
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func hasVerb(verbs []string, v string) bool {
	for _, x := range verbs {
		if x == v {
			return true
		}
	}
	return false
}
