package fakelab

// Outlier detection and connection pools, per caller proxy and cluster,
// as Envoy keeps them: each client proxy ejects hosts on its own
// (productpage's ejection does not affect reviews'), and each has its own
// pool of connections to a cluster.

import (
	"context"
	"time"
)

type hostState struct {
	cons5xx, consGw int
	ejectedUntil    time.Time
	times           int
}

func hostKey(from *caller, cluster string, ep *Pod) string {
	return from.key() + "|" + cluster + "|" + ep.Key()
}

// pickHost returns a random endpoint outlier detection has not ejected,
// preferring one this request has not tried (Istio's retry host
// predicate), or nil when none is left: Istio sets Envoy's panic
// threshold to 0, so ejected hosts are not used as a last resort.
func (s *Sim) pickHost(w *World, from *caller, up *upstream, tried map[string]bool) *Pod {
	eps := s.rolling(w.Endpoints(up.svc, up.subset))
	now := s.opts.Now()
	var healthy, fresh []*Pod
	s.mu.Lock()
	for _, ep := range eps {
		if h := s.hosts[hostKey(from, up.cluster, ep)]; h != nil && now.Before(h.ejectedUntil) {
			continue
		}
		healthy = append(healthy, ep)
		if !tried[ep.Key()] {
			fresh = append(fresh, ep)
		}
	}
	s.mu.Unlock()
	if len(fresh) > 0 {
		healthy = fresh
	}
	if len(healthy) == 0 {
		return nil
	}
	return healthy[s.intn(len(healthy))]
}

// maxEjection is Envoy's default max_ejection_time.
const maxEjection = 300 * time.Second

// outcome feeds an attempt's answer to outlier detection: consecutive
// 5xx (connection failures and resets count as 5xx, Envoy's default) and
// consecutive gateway errors (502, 503, 504), ejecting for
// baseEjectionTime times the number of ejections (at most maxEjection),
// within
// maxEjectionPercent (Envoy's default 10) but always at least one host.
// Without an outlierDetection block nothing is ejected.
func (s *Sim) outcome(w *World, from *caller, up *upstream, ep *Pod, r Response) {
	od := up.policy.OutlierDetection
	if od == nil {
		return
	}
	thr5, thrGw := 5, 0
	if od.Consecutive5xxErrors != nil {
		thr5 = *od.Consecutive5xxErrors
	}
	if od.ConsecutiveGatewayErrors != nil {
		thrGw = *od.ConsecutiveGatewayErrors
	}
	base := dur(od.BaseEjectionTime)
	if base <= 0 {
		base = 30 * time.Second
	}
	maxPct := 10
	if od.MaxEjectionPercent != nil {
		maxPct = *od.MaxEjectionPercent
	}
	is5xx := r.Status >= 500
	isGw := r.Status == 502 || r.Status == 503 || r.Status == 504
	all := w.Endpoints(up.svc, up.subset)
	now := s.opts.Now()

	s.mu.Lock()
	defer s.mu.Unlock()
	k := hostKey(from, up.cluster, ep)
	h := s.hosts[k]
	if h == nil {
		h = &hostState{}
		s.hosts[k] = h
	}
	if !is5xx {
		h.cons5xx, h.consGw = 0, 0
		return
	}
	h.cons5xx++
	if isGw {
		h.consGw++
	} else {
		h.consGw = 0
	}
	why := ""
	switch {
	case thr5 > 0 && h.cons5xx >= thr5:
		why = "consecutive_5xx"
	case thrGw > 0 && h.consGw >= thrGw:
		why = "consecutive_gateway_failure"
	default:
		return
	}
	ejected := 0
	for _, other := range all {
		if o := s.hosts[hostKey(from, up.cluster, other)]; o != nil && now.Before(o.ejectedUntil) {
			ejected++
		}
	}
	s.metrics.addLocked(from.key(), "envoy_cluster_outlier_detection_ejections_detected_"+why, up.cluster, 1)
	if ejected > 0 && (ejected+1)*100 > maxPct*len(all) {
		return
	}
	h.times++
	// Envoy's max_ejection_time (Istio does not set it) caps the
	// growing ejection at 300s, or at baseEjectionTime if that is longer.
	d := min(base*time.Duration(h.times), max(maxEjection, base))
	h.ejectedUntil = now.Add(s.scaled(d))
	h.cons5xx, h.consGw = 0, 0
	s.metrics.addLocked(from.key(), "envoy_cluster_outlier_detection_ejections_enforced_total", up.cluster, 1)
	s.metrics.addLocked(from.key(), "envoy_cluster_outlier_detection_ejections_enforced_"+why, up.cluster, 1)
}

// ejectedNow counts, per caller proxy and cluster, the hosts ejected at
// this moment (Envoy's ejections_active gauge).
func (s *Sim) ejectedNow(proxy string) map[string]int {
	now := s.opts.Now()
	out := map[string]int{}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, h := range s.hosts {
		p, rest, _ := cut3(k)
		if p == proxy && now.Before(h.ejectedUntil) {
			out[rest]++
		} else if p == proxy {
			out[rest] += 0
		}
	}
	return out
}

// cut3 splits proxy|cluster|pod; the cluster itself contains |.
func cut3(k string) (proxy, cluster, pod string) {
	first := -1
	last := -1
	for i := 0; i < len(k); i++ {
		if k[i] == '|' {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 || first == last {
		return k, "", ""
	}
	return k[:first], k[first+1 : last], k[last+1:]
}

type pool struct {
	conns, idle, active, pending, uses int
}

// acquire takes a connection from the caller's pool for a cluster. A
// request that finds no idle connection is pending while a new one is
// set up (or, at tcp.maxConnections, until one is free); one that finds
// http1MaxPendingRequests already pending overflows (503, flag UO).
func (s *Sim) acquire(ctx context.Context, from *caller, up *upstream) (release func(), ok bool) {
	maxConn, maxPend, perConn := 1<<31, 1<<31, 0
	if cp := up.policy.ConnectionPool; cp != nil {
		if cp.TCP != nil && cp.TCP.MaxConnections > 0 {
			maxConn = cp.TCP.MaxConnections
		}
		if cp.HTTP != nil && cp.HTTP.HTTP1MaxPendingRequests > 0 {
			maxPend = cp.HTTP.HTTP1MaxPendingRequests
		}
		if cp.HTTP != nil {
			perConn = cp.HTTP.MaxRequestsPerConnection
		}
	}
	k := from.key() + "|" + up.cluster
	s.mu.Lock()
	p := s.pools[k]
	if p == nil {
		p = &pool{}
		s.pools[k] = p
	}
	release = func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		p.active--
		p.uses++
		if perConn > 0 && p.uses%perConn == 0 {
			p.conns-- // the connection served its quota and is closed
			return
		}
		p.idle++
	}
	if p.idle > 0 {
		p.idle--
		p.active++
		s.mu.Unlock()
		return release, true
	}
	if p.pending >= maxPend {
		s.mu.Unlock()
		return nil, false
	}
	p.pending++
	if p.conns < maxConn {
		p.conns++
		s.mu.Unlock()
		t := time.NewTimer(s.opts.ConnectTime)
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
		s.mu.Lock()
		p.pending--
		p.active++
		s.mu.Unlock()
		return release, true
	}
	s.mu.Unlock()
	// At maxConnections: wait for a connection to come back.
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		s.mu.Lock()
		if p.idle > 0 || p.conns < maxConn {
			if p.idle > 0 {
				p.idle--
			} else {
				p.conns++
			}
			p.pending--
			p.active++
			s.mu.Unlock()
			return release, true
		}
		s.mu.Unlock()
		select {
		case <-tick.C:
		case <-ctx.Done():
			s.mu.Lock()
			p.pending--
			s.mu.Unlock()
			return nil, false
		}
	}
}
