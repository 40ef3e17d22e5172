package fakelab

// What the Telemetry API and the mesh config make each proxy record, as
// istiod works it out (pilot/pkg/model/telemetry.go, Istio 1.29): the
// Telemetry of the root namespace, then the namespace's, then one that
// selects the workload, each overriding the one before, on top of the
// mesh config's defaultProviders. A mode (CLIENT for a sidecar's calls
// and for gateways, SERVER for the calls a sidecar receives) picks which
// entries apply.

import (
	"regexp"
	"sort"
	"strings"
	"time"
)

// Telemetry is a telemetry.istio.io Telemetry.
type Telemetry struct {
	Name, Namespace string
	Created         time.Time
	Spec            struct {
		Selector *struct {
			MatchLabels map[string]string `json:"matchLabels"`
		} `json:"selector"`
		AccessLogging []struct {
			Providers []providerRef `json:"providers"`
			Match     *modeMatch    `json:"match"`
			Disabled  *bool         `json:"disabled"`
		} `json:"accessLogging"`
		Metrics []struct {
			Providers []providerRef `json:"providers"`
			Overrides []struct {
				Match *struct {
					Metric string `json:"metric"`
					Mode   string `json:"mode"`
				} `json:"match"`
				Disabled     *bool `json:"disabled"`
				TagOverrides map[string]struct {
					Operation string `json:"operation"`
					Value     string `json:"value"`
				} `json:"tagOverrides"`
			} `json:"overrides"`
		} `json:"metrics"`
		Tracing []struct {
			Providers                []providerRef `json:"providers"`
			Match                    *modeMatch    `json:"match"`
			RandomSamplingPercentage *float64      `json:"randomSamplingPercentage"`
			DisableSpanReporting     *bool         `json:"disableSpanReporting"`
		} `json:"tracing"`
	}
}

type providerRef struct {
	Name string `json:"name"`
}

type modeMatch struct {
	Mode string `json:"mode"`
}

// ExtensionProvider is one of the mesh config's extensionProviders: an
// access-log file, an OpenTelemetry tracer, or Prometheus.
type ExtensionProvider struct {
	Name               string `json:"name"`
	EnvoyFileAccessLog *struct {
		Path      string `json:"path"`
		LogFormat *struct {
			Text   string            `json:"text"`
			Labels map[string]string `json:"labels"`
		} `json:"logFormat"`
	} `json:"envoyFileAccessLog"`
	Opentelemetry *struct {
		Service string `json:"service"`
		Port    int    `json:"port"`
	} `json:"opentelemetry"`
	Prometheus *struct{} `json:"prometheus"`
}

// covers says whether an entry matching m applies in mode (CLIENT or
// SERVER); no match, or CLIENT_AND_SERVER, applies in both.
func covers(m *modeMatch, mode string) bool {
	return m == nil || m.Mode == "" || m.Mode == "CLIENT_AND_SERVER" || m.Mode == mode
}

// telemetries are the Telemetry objects that apply to a proxy, in the
// order istiod merges them: root namespace, namespace, workload. Of
// several candidates at one level the oldest wins, as in istiod.
func (w *World) telemetries(p *Pod) []*Telemetry {
	if p == nil {
		return nil
	}
	oldest := func(ts []*Telemetry) *Telemetry {
		if len(ts) == 0 {
			return nil
		}
		sort.Slice(ts, func(i, j int) bool {
			if !ts[i].Created.Equal(ts[j].Created) {
				return ts[i].Created.Before(ts[j].Created)
			}
			return ts[i].Name < ts[j].Name
		})
		return ts[0]
	}
	wide := func(ns string) *Telemetry {
		var c []*Telemetry
		for _, t := range w.Telemetries {
			if t.Namespace == ns && (t.Spec.Selector == nil || len(t.Spec.Selector.MatchLabels) == 0) {
				c = append(c, t)
			}
		}
		return oldest(c)
	}
	var out []*Telemetry
	if t := wide(w.Mesh.RootNamespace); t != nil {
		out = append(out, t)
	}
	if p.Namespace != w.Mesh.RootNamespace {
		if t := wide(p.Namespace); t != nil {
			out = append(out, t)
		}
	}
	var sel []*Telemetry
	for _, t := range w.Telemetries {
		if t.Namespace == p.Namespace && t.Spec.Selector != nil && len(t.Spec.Selector.MatchLabels) > 0 &&
			labelsMatch(t.Spec.Selector.MatchLabels, p.Labels) {
			sel = append(sel, t)
		}
	}
	if t := oldest(sel); t != nil {
		out = append(out, t)
	}
	return out
}

func (w *World) provider(name string) *ExtensionProvider {
	for i := range w.Mesh.ExtensionProviders {
		if w.Mesh.ExtensionProviders[i].Name == name {
			return &w.Mesh.ExtensionProviders[i]
		}
	}
	return nil
}

// accessLogs are the access-log providers a proxy writes with in mode:
// the mesh config's default providers, replaced by the providers a
// Telemetry names for the mode, or none when one disables logging.
func (w *World) accessLogs(p *Pod, mode string) []*ExtensionProvider {
	if !w.Mesh.Found {
		// No istiod mesh config at all (a bare test world): the lab's
		// default, every sidecar logging JSON with envoy-stdout.
		return []*ExtensionProvider{&bareLog}
	}
	names := w.Mesh.DefaultProviders.AccessLogging
	disabled := false
	for _, t := range w.telemetries(p) {
		for _, l := range t.Spec.AccessLogging {
			if !covers(l.Match, mode) {
				continue
			}
			if len(l.Providers) > 0 {
				names = nil
				for _, pr := range l.Providers {
					names = append(names, pr.Name)
				}
			}
			if l.Disabled != nil {
				disabled = *l.Disabled
			}
		}
	}
	if disabled {
		return nil
	}
	var out []*ExtensionProvider
	for _, n := range names {
		if pr := w.provider(n); pr != nil && pr.EnvoyFileAccessLog != nil {
			out = append(out, pr)
		}
	}
	return out
}

// bareLog is the access-log provider of a world without a mesh config:
// the fields of the lab's envoy-stdout, with the trace ID.
var bareLog = func() ExtensionProvider {
	var pr ExtensionProvider
	pr.Name = "envoy-stdout"
	pr.EnvoyFileAccessLog = &struct {
		Path      string `json:"path"`
		LogFormat *struct {
			Text   string            `json:"text"`
			Labels map[string]string `json:"labels"`
		} `json:"logFormat"`
	}{Path: "/dev/stdout", LogFormat: &struct {
		Text   string            `json:"text"`
		Labels map[string]string `json:"labels"`
	}{Labels: map[string]string{"start_time": "%START_TIME%", "method": "%REQ(:METHOD)%", "path": "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%",
		"response_code": "%RESPONSE_CODE%", "response_flags": "%RESPONSE_FLAGS%", "upstream_cluster": "%UPSTREAM_CLUSTER%",
		"duration": "%DURATION%", "trace_id": "%TRACE_ID%"}}}
	return pr
}()

// tracing is what a proxy does with traces in mode.
type tracing struct {
	on       bool               // the proxy takes part in traces (its HTTP connection manager has tracing)
	provider *ExtensionProvider // where its spans go; nil: nowhere
	sampling float64            // percentage of new traces it samples
}

// tracingFor follows Telemetries.Tracing and configureTracingFromTelemetry:
// the default provider, then each applicable entry for the mode
// (providers, disableSpanReporting, randomSamplingPercentage). With no
// tracing configured at all the legacy enableTracing switch decides, with
// no provider the simulator knows. Sampling falls back to the mesh
// config's defaultConfig.tracing.sampling, then 1%.
//
// A provider istiod cannot use gives the proxy no tracer at all, so no
// span and no trace ID (Envoy's %TRACE_ID% is then empty): a provider
// name the mesh config does not define (Telemetries.Tracing disables the
// spec), and an OpenTelemetry provider whose service is not in istiod's
// registry (otelConfig's LookupCluster fails, and
// configureTracingFromTelemetry returns before setting the connection
// manager's tracing; pilot/pkg/networking/core/tracing.go, Istio 1.29).
// In the chapter 8 lab that is every proxy until the collector's Service
// exists.
func (w *World) tracingFor(p *Pod, mode string) tracing {
	fallback := w.Mesh.Sampling
	if fallback == 0 {
		fallback = 1
	}
	ts := w.telemetries(p)
	var entries int
	for _, t := range ts {
		entries += len(t.Spec.Tracing)
	}
	names := w.Mesh.DefaultProviders.Tracing
	if entries == 0 && len(names) == 0 {
		return tracing{on: w.Mesh.EnableTracing, sampling: fallback}
	}
	var prov *ExtensionProvider
	if len(names) > 0 {
		prov = w.provider(names[0])
	}
	disabled := false
	var sampling *float64
	for _, t := range ts {
		for _, e := range t.Spec.Tracing {
			if !covers(e.Match, mode) {
				continue
			}
			if len(e.Providers) > 0 {
				prov = w.provider(e.Providers[0].Name)
			}
			if e.DisableSpanReporting != nil {
				disabled = *e.DisableSpanReporting
			}
			if e.RandomSamplingPercentage != nil {
				v := *e.RandomSamplingPercentage
				sampling = &v
			}
		}
	}
	if disabled || prov == nil {
		return tracing{}
	}
	if prov.Opentelemetry != nil && !w.inRegistry(prov.Opentelemetry.Service) {
		return tracing{}
	}
	tr := tracing{on: true, sampling: fallback}
	if sampling != nil {
		tr.sampling = *sampling
	}
	if prov.Opentelemetry != nil {
		tr.provider = prov
	}
	return tr
}

// inRegistry says whether istiod's service index has host, as
// model.LookupCluster looks it up: a Service's full name in a namespace
// istiod watches, or a ServiceEntry host (entries outside the discovery
// selectors are already dropped). "namespace/host" names the namespace.
func (w *World) inRegistry(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	ns := ""
	if a, b, ok := strings.Cut(host, "/"); ok {
		ns, host = a, b
	}
	for _, s := range w.Services {
		if s.FQDN() == host && (ns == "" || s.Namespace == ns) && w.Selected(s.Namespace) {
			return true
		}
	}
	for _, se := range w.ServiceEntries {
		for _, h := range se.Spec.Hosts {
			if strings.EqualFold(h, host) && (ns == "" || se.Namespace == ns) {
				return true
			}
		}
	}
	return false
}

// metricsFor says whether a proxy reports istio_requests_total in mode,
// and the tags the Telemetry API adds or replaces: their values are CEL
// expressions, evaluated per request (see celValue).
func (w *World) metricsFor(p *Pod, mode string) (on bool, tags map[string]string, removed []string) {
	on = false
	for _, n := range w.Mesh.DefaultProviders.Metrics {
		if n == "prometheus" {
			on = true
		}
	}
	tags = map[string]string{}
	for _, t := range w.telemetries(p) {
		for _, m := range t.Spec.Metrics {
			if len(m.Providers) > 0 {
				on = false
				for _, pr := range m.Providers {
					if pr.Name == "prometheus" {
						on = true
					}
				}
			}
			for _, o := range m.Overrides {
				if o.Match != nil {
					if o.Match.Metric != "" && o.Match.Metric != "ALL_METRICS" && o.Match.Metric != "REQUEST_COUNT" {
						continue
					}
					if o.Match.Mode != "" && o.Match.Mode != "CLIENT_AND_SERVER" && o.Match.Mode != mode {
						continue
					}
				}
				if o.Disabled != nil && *o.Disabled {
					on = false
				}
				for k, v := range o.TagOverrides {
					if strings.EqualFold(v.Operation, "REMOVE") {
						delete(tags, k)
						removed = append(removed, k)
						continue
					}
					tags[k] = celValue(v.Value)
				}
			}
		}
	}
	return on, tags, removed
}

var celString = regexp.MustCompile(`^\s*(?:'([^'\\]*)'|"([^"\\]*)")\s*$`)

// celValue is what Istio's stats filter makes of a tag override's value,
// a CEL expression: a string literal ('istio-demo') gives its text; an
// expression that fails to evaluate gives "unknown" (istio_stats.cc).
// The simulator evaluates literals only: a bare istio-demo parses as
// istio - demo, whose attributes do not exist, and anything that is not
// a literal is taken to fail the same way.
func celValue(expr string) string {
	if m := celString.FindStringSubmatch(expr); m != nil {
		return m[1] + m[2]
	}
	return "unknown"
}
