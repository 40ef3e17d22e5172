package cli

import (
	"os"
	"testing"
)

// TestDevNullIsNotATerminal: /dev/null is a character device, and the
// tutorial took it for a terminal when output was redirected there.
func TestDevNullIsNotATerminal(t *testing.T) {
	f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) {
		t.Fatal("/dev/null is taken for a terminal")
	}
}
