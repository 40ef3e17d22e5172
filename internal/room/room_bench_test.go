package room

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/meshdojo/meshdojo/checks"
	"github.com/meshdojo/meshdojo/checks/catalogue"
	"github.com/meshdojo/meshdojo/internal/cluster"
	"github.com/meshdojo/meshdojo/internal/testcluster"
	"github.com/meshdojo/meshdojo/lessons"
)

// envInt reads a benchmark size from the environment.
func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// BenchmarkRoom runs a room of MESHDOJO_ROOM_PARTICIPANTS participants
// (default 30) spread over MESHDOJO_ROOM_SERVERS real API servers
// (default 6: each is an etcd and a kube-apiserver, ~0.5 GB and a few
// seconds of CPU to start, on a machine shared with other work). Every
// participant has their own connection and engine, watching lesson 6's
// reading checks plus one check (a ConfigMap count in their own
// namespace) that the benchmark flips. It reports:
//
//   - startup-ms: from Run until every participant's every cell has a
//     verdict;
//   - update-p50-ms, update-p99-ms: from just before the API write that
//     changes one participant's cluster to that participant's updated
//     cell (the event applied to the board), over b.N flips, round robin
//     over the participants;
//   - heap-MB/participant: live heap after start-up (after a GC) above
//     what the process held before the room started, divided by the
//     participants: the engines, their informers' caches and clients.
//
// Starting the servers takes far longer than any bench time, so the
// testing package calls it once (b.N is 1): it flips
// MESHDOJO_ROOM_FLIPS times (default 100, or b.N if larger). Run it
// with `make bench-room`.
func BenchmarkRoom(b *testing.B) {
	nServers := envInt("MESHDOJO_ROOM_SERVERS", 6)
	nPart := envInt("MESHDOJO_ROOM_PARTICIPANTS", 30)
	flips := max(b.N, envInt("MESHDOJO_ROOM_FLIPS", 100))

	servers := make([]*testcluster.Cluster, nServers)
	var wg sync.WaitGroup
	errs := make([]error, nServers)
	// Two at a time: each start is CPU-heavy (the CRDs), and ten at once
	// on two cores time out.
	sem := make(chan struct{}, 2)
	for i := range servers {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			servers[i], errs[i] = testcluster.Start()
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(servers[i].Stop)
	}

	all, err := lessons.Load()
	if err != nil {
		b.Fatal(err)
	}
	var l6 *lessons.Lesson
	for _, l := range all {
		if l.ID == "6" {
			l6 = l
		}
	}
	set, cols, err := Watchable(l6)
	if err != nil {
		b.Fatal(err)
	}
	// The flipped check: a labelled ConfigMap in namespace room-flip.
	// The set is the same for everyone, as in a class, so participants
	// who share an API server share the namespace too: a flip is seen by
	// every participant of that server, more work than a real room's
	// change in one participant's cluster would cause.
	rc, _ := catalogue.Lookup("resource-count")
	p, err := rc.Validate(map[string]string{"kind": "ConfigMap", "namespace": "room-flip", "selector": "room=flip", "min": "1"})
	if err != nil {
		b.Fatal(err)
	}
	set = append(set, checks.Bound{Key: "flip", Title: "flip", Check: rc, Params: p})
	cols = append(cols, Column{Step: len(cols) + 1, Title: "flip", Keys: []string{"flip"}})
	flipCol := len(cols) - 1

	kubes := make([]kubernetes.Interface, nServers)
	for i, s := range servers {
		if kubes[i], err = kubernetes.NewForConfig(s.Config); err != nil {
			b.Fatal(err)
		}
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "room-flip"}}
		if _, err := kubes[i].CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	dir := b.TempDir()
	ps := make([]Participant, nPart)
	for i := range ps {
		kc, err := servers[i%nServers].Kubeconfig(nil)
		if err != nil {
			b.Fatal(err)
		}
		path := fmt.Sprintf("%s/p%02d.yaml", dir, i)
		if err := os.WriteFile(path, kc, 0o600); err != nil {
			b.Fatal(err)
		}
		ps[i] = Participant{Name: fmt.Sprintf("p%02d", i), Opts: cluster.Options{Kubeconfig: path, Context: "testcluster"}}
	}

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	board := NewBoard(ps, cols, set)
	events := make(chan Event, 1024)
	ctx, cancel := context.WithCancel(context.Background())
	r := &Room{Participants: ps, Set: set}
	done := make(chan struct{})
	start := time.Now()
	go func() { r.Run(ctx, events); close(done) }()
	b.Cleanup(func() { cancel(); <-done })

	complete := func() bool {
		for row := range board.Rows {
			for col := range board.Columns {
				if k := board.Cell(row, col).Kind; k == Pending {
					return false
				}
			}
		}
		return true
	}
	timeout := time.After(5 * time.Minute)
	for !complete() {
		select {
		case ev := <-events:
			board.Apply(ev)
		case <-timeout:
			b.Fatal("not every cell has a verdict after 5 minutes")
		}
	}
	startup := time.Since(start)

	// Drain what is still coming (polled checks), then measure the heap.
	drain := func(d time.Duration) {
		t := time.After(d)
		for {
			select {
			case ev := <-events:
				board.Apply(ev)
			case <-t:
				return
			}
		}
	}
	drain(2 * time.Second)
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	heap := float64(after.HeapAlloc) - float64(before.HeapAlloc)

	present := make([]bool, nServers)
	var lat []time.Duration
	b.ResetTimer()
	for i := range flips {
		row := i % nPart
		srv := row % nServers
		want := Pass
		t0 := time.Now()
		cms := kubes[srv].CoreV1().ConfigMaps("room-flip")
		if present[srv] {
			want = Fail
			err = cms.Delete(context.Background(), "flip", metav1.DeleteOptions{})
		} else {
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "flip", Labels: map[string]string{"room": "flip"}}}
			_, err = cms.Create(context.Background(), cm, metav1.CreateOptions{})
		}
		if err != nil {
			b.Fatal(err)
		}
		present[srv] = !present[srv]
		deadline := time.After(time.Minute)
		for board.Cell(row, flipCol).Kind != want {
			select {
			case ev := <-events:
				board.Apply(ev)
			case <-deadline:
				b.Fatalf("participant %d's cell is not %v a minute after the change", row, want)
			}
		}
		lat = append(lat, time.Since(t0))
		// The other participants of the server see it too; let their
		// events through so the next measurement starts from rest.
		drain(20 * time.Millisecond)
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(q float64) float64 {
		return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(startup.Milliseconds()), "startup-ms")
	b.ReportMetric(pct(0.5), "update-p50-ms")
	b.ReportMetric(pct(0.99), "update-p99-ms")
	b.ReportMetric(heap/float64(nPart)/(1<<20), "heap-MB/participant")
	b.ReportMetric(float64(nPart), "participants")
	b.ReportMetric(float64(nServers), "apiservers")
}
