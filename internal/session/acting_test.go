package session

import (
	"testing"
	"time"
)

func TestActingWaitsForAdmittedRuns(t *testing.T) {
	var a Acting
	if !a.Begin() {
		t.Fatal("a run was refused before Close")
	}
	ended := make(chan struct{})
	go func() {
		time.Sleep(20 * time.Millisecond) // the clean-up
		close(ended)
		a.End()
	}()
	if !a.Close(10 * time.Second) {
		t.Fatal("Close gave up on a run that ended")
	}
	select {
	case <-ended:
	default:
		t.Fatal("Close returned before the run ended")
	}
}

// TestActingRefusesAfterClose: work scheduled before a quit and started
// after it is not admitted, so nothing waits for it and it does nothing.
func TestActingRefusesAfterClose(t *testing.T) {
	var a Acting
	if !a.Close(time.Second) {
		t.Fatal("Close with nothing running did not return true")
	}
	if a.Begin() {
		t.Fatal("a run was admitted after Close")
	}
}

func TestActingReportsATimeOut(t *testing.T) {
	var a Acting
	a.Begin()
	defer a.End()
	if a.Close(time.Millisecond) {
		t.Fatal("Close reported success while a run was still under way")
	}
}
