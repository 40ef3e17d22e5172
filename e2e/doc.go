// Package e2e holds meshdojo's end-to-end tests: they build the real
// binary, run it in a pseudo-terminal, read the screen through a terminal
// emulator (charmbracelet/x/vt) and press keys as a reader would.
// There is no code here outside the tests.
package e2e
