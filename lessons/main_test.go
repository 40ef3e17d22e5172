package lessons_test

import (
	"testing"

	"github.com/meshdojo/meshdojo/internal/testcluster"
)

// TestMain shares one real API server among the walk tests (started only
// when a test asks for it, so the parser's unit tests pay nothing).
func TestMain(m *testing.M) { testcluster.Main(m) }
