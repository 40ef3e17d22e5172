package engine

import (
	"testing"

	"github.com/meshdojo/meshdojo/internal/testcluster"
)

// TestMain shares one real API server (started on first use) among the
// package's tests; engine and check tests alike take it with
// testcluster.Shared(t).
func TestMain(m *testing.M) { testcluster.Main(m) }
