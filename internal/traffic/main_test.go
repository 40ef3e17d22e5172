package traffic

import (
	"testing"

	"github.com/meshdojo/meshdojo/internal/testcluster"
)

// TestMain shares one real API server (started on first use) among the
// tests of this package that need one.
func TestMain(m *testing.M) { testcluster.Main(m) }
