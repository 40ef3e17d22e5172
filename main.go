// Command meshdojo is a terminal tutorial for learning Istio hands-on,
// chapter by chapter, with each step checked against the reader's own
// Kubernetes cluster. See README.md.
package main

import (
	"os"

	"github.com/meshdojo/meshdojo/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], cli.Stdio()))
}
