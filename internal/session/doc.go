// Package session is the reader's place in the lessons and the rules
// that govern it, without any user interface: which step is open, what
// the reader revealed there (hints, solution, answer), the live state of
// the step's checks, whether the gate to the next step is open, skipping
// and resetting a step, judging an answer, the life cycle of a check
// that acts on the cluster (consent, run, cancel and clean-up), and
// recording all of it in progress.
//
// The terminal UI drives a Session with the reader's keys and renders
// it; a command-line front end could drive the same Session.
package session
