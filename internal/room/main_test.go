package room

import (
	"testing"

	"github.com/meshdojo/meshdojo/internal/testcluster"
)

// TestMain shares one real API server among the package's tests; the
// tests that need more start their own.
func TestMain(m *testing.M) { testcluster.Main(m) }
