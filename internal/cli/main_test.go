package cli

import (
	"testing"

	"github.com/meshdojo/meshdojo/internal/testcluster"
)

// TestMain shares one real API server (started on first use, so tests
// that need none pay nothing) among the package's tests.
func TestMain(m *testing.M) { testcluster.Main(m) }
