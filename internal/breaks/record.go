package breaks

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/meshdojo/meshdojo/internal/progress"
)

// Records are the breaks in place in one kube context: one JSON file per
// context in the breaks directory of meshdojo's state directory, written
// atomically (progress.WriteAtomic) under the directory's lock.
type Records struct {
	Version int      `json:"version"`
	Context string   `json:"context"`
	Server  string   `json:"server"`
	Breaks  []Record `json:"breaks"`
}

// Record is one break in place.
type Record struct {
	ID      string    `json:"id"` // lesson.name
	At      time.Time `json:"at"`
	Objects []Written `json:"objects"`
}

// Written is one object a break wrote, with what was there before.
type Written struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace"`
	Name       string `json:"name"`
	// Created: the object did not exist before the break; UID is the
	// one the break created (empty until the write succeeded).
	Created bool   `json:"created"`
	UID     string `json:"uid,omitempty"`
	// Previous is the object as it was before the break (its metadata
	// trimmed to what restoring needs), when it existed.
	Previous map[string]any `json:"previous,omitempty"`
}

func (w Written) String() string { return w.Kind + " " + w.Namespace + "/" + w.Name }

const recordsVersion = 1

// path is the context's records file; names are made safe as progress
// files' are.
func (c *Client) path() string {
	st := progress.Store{Dir: filepath.Join(c.Dir, "breaks")}
	return st.Path(c.Context)
}

// read returns the records on disk; none is no error. A file that
// cannot be read is an error naming it: it holds what to restore, so it
// is never dropped silently.
func (c *Client) read() (*Records, error) {
	r := &Records{Version: recordsVersion, Context: c.Context, Server: c.Server}
	data, err := os.ReadFile(c.path())
	if errors.Is(err, fs.ErrNotExist) {
		return r, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading break records: %w", err)
	}
	if err := json.Unmarshal(data, r); err != nil {
		return nil, fmt.Errorf("break records %s are unreadable (%v); move the file away to start afresh, after putting the lab back by hand", c.path(), err)
	}
	if r.Version != recordsVersion {
		return nil, fmt.Errorf("break records %s have format %d, want %d", c.path(), r.Version, recordsVersion)
	}
	return r, nil
}

// write replaces the records file atomically, or removes it when no
// break is left.
func (c *Client) write(r *Records) error {
	if len(r.Breaks) == 0 {
		if err := os.Remove(c.path()); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	sort.SliceStable(r.Breaks, func(i, j int) bool { return r.Breaks[i].At.Before(r.Breaks[j].At) })
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return progress.WriteAtomic(c.path(), append(data, '\n'))
}

// locked runs f with the records under the state directory's lock, and
// writes them back when f reports a change.
func (c *Client) locked(f func(r *Records) (changed bool, err error)) error {
	dir := filepath.Dir(c.path())
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("break records: %w", err)
	}
	unlock, err := progress.LockDir(dir)
	if err != nil {
		return fmt.Errorf("break records: %w", err)
	}
	defer unlock()
	r, err := c.read()
	if err != nil {
		return err
	}
	changed, ferr := f(r)
	if changed {
		if err := c.write(r); err != nil {
			return errors.Join(ferr, fmt.Errorf("writing break records: %w", err))
		}
	}
	return ferr
}

// InPlace lists the breaks recorded for the context, oldest first.
func (c *Client) InPlace() ([]Record, error) {
	r, err := c.read()
	if err != nil {
		return nil, err
	}
	return r.Breaks, nil
}
