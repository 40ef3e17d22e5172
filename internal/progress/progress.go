// Package progress remembers how far a reader has come: for each kube
// context, which steps of which lessons are done, skipped or failed, and
// where to resume.
//
// One JSON file per context lives in the XDG state directory
// ($XDG_STATE_HOME/meshdojo, by default ~/.local/state/meshdojo). Files are
// written atomically (temporary file, fsync, rename), so a crash never
// leaves a half-written file. A file that cannot be read is moved aside
// and reported, never silently dropped, and the tutorial goes on with a
// fresh start.
package progress

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// Status is what became of a step.
type Status string

const (
	Done    Status = "done"
	Skipped Status = "skipped" // the reader chose to move on without passing
	Failed  Status = "failed"  // a wrong answer or a failed probe; may later be done
)

// Step is the record of one step, keyed by its anchor in Lesson.Steps.
type Step struct {
	Status Status    `json:"status"`
	At     time.Time `json:"at"`
}

// Lesson is the record of one lesson.
type Lesson struct {
	Current string          `json:"current,omitempty"` // anchor of the step the reader is on
	Steps   map[string]Step `json:"steps,omitempty"`
	Started time.Time       `json:"started"`
	Updated time.Time       `json:"updated"`
}

// State is everything remembered for one kube context.
type State struct {
	Version int                `json:"version"`
	Context string             `json:"context"`
	Last    string             `json:"last,omitempty"` // lesson ID opened last, for resuming
	Lessons map[string]*Lesson `json:"lessons"`
	Updated time.Time          `json:"updated"`
}

const version = 1

// New returns empty progress for a context.
func New(context string) *State {
	return &State{Version: version, Context: context, Lessons: map[string]*Lesson{}}
}

// Lesson returns the record of a lesson, creating it when absent.
func (s *State) Lesson(id string) *Lesson {
	if s.Lessons == nil {
		s.Lessons = map[string]*Lesson{}
	}
	l := s.Lessons[id]
	if l == nil {
		l = &Lesson{Steps: map[string]Step{}}
		s.Lessons[id] = l
	}
	if l.Steps == nil {
		l.Steps = map[string]Step{}
	}
	return l
}

// Mark records a step's status and makes it current.
func (s *State) Mark(lesson, step string, st Status, now time.Time) {
	l := s.Lesson(lesson)
	l.Steps[step] = Step{Status: st, At: now}
	s.touch(lesson, l, now)
}

// Forget drops a step's recorded status, as if it had never been
// checked, skipped or failed; the step stays current.
func (s *State) Forget(lesson, step string, now time.Time) {
	l := s.Lesson(lesson)
	delete(l.Steps, step)
	l.Current = step
	s.touch(lesson, l, now)
}

// SetCurrent records the step the reader is on.
func (s *State) SetCurrent(lesson, step string, now time.Time) {
	l := s.Lesson(lesson)
	l.Current = step
	s.touch(lesson, l, now)
}

func (s *State) touch(id string, l *Lesson, now time.Time) {
	if l.Started.IsZero() {
		l.Started = now
	}
	l.Updated = now
	s.Last = id
	s.Updated = now
}

// StatusOf returns a step's recorded status, or "" when none.
func (s *State) StatusOf(lesson, step string) Status {
	if l := s.Lessons[lesson]; l != nil {
		return l.Steps[step].Status
	}
	return ""
}

// Count returns how many of the given step anchors are done and skipped.
func (s *State) Count(lesson string, anchors []string) (done, skipped int) {
	for _, a := range anchors {
		switch s.StatusOf(lesson, a) {
		case Done:
			done++
		case Skipped:
			skipped++
		}
	}
	return done, skipped
}

// Clone returns a deep copy, so a snapshot can be saved in the
// background while the UI goes on changing the original.
func (s *State) Clone() *State {
	c := *s
	c.Lessons = make(map[string]*Lesson, len(s.Lessons))
	for id, l := range s.Lessons {
		lc := *l
		lc.Steps = make(map[string]Step, len(l.Steps))
		for k, v := range l.Steps {
			lc.Steps[k] = v
		}
		c.Lessons[id] = &lc
	}
	return &c
}

// Store reads and writes progress files in one directory.
type Store struct {
	Dir string

	mu      sync.Mutex
	written map[string]uint64 // highest sequence saved per file
}

// DefaultDir is $XDG_STATE_HOME/meshdojo, or ~/.local/state/meshdojo.
func DefaultDir() (string, error) {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "meshdojo"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("cannot find a place for progress: set XDG_STATE_HOME or HOME (%v)", err)
	}
	return filepath.Join(home, ".local", "state", "meshdojo"), nil
}

// Open returns a store in dir (DefaultDir when empty). The directory is
// created on the first save, not here, so read-only commands leave no
// trace.
func Open(dir string) (*Store, error) {
	if dir == "" {
		d, err := DefaultDir()
		if err != nil {
			return nil, err
		}
		dir = d
	}
	return &Store{Dir: dir, written: map[string]uint64{}}, nil
}

// Path is the file holding a context's progress. Context names may hold
// any character (EKS ARNs have ':' and '/'), so the name is made safe and
// suffixed with a short hash to keep distinct contexts apart.
func (st *Store) Path(context string) string {
	if context == "" {
		context = "no-context"
	}
	var b strings.Builder
	for _, r := range context {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteRune('_')
		}
	}
	name := strings.Trim(b.String(), ".")
	if len(name) > 60 {
		name = name[:60]
	}
	sum := sha256.Sum256([]byte(context))
	return filepath.Join(st.Dir, name+"-"+hex.EncodeToString(sum[:4])+".json")
}

// CorruptError reports a progress file that could not be used and where
// it was moved. The caller shows it as a warning and carries on.
type CorruptError struct {
	Path, MovedTo string
	Err           error
}

func (e *CorruptError) Error() string {
	if e.MovedTo == "" {
		return fmt.Sprintf("progress file %s is unreadable (%v) and could not be moved aside; starting fresh, and it will be overwritten on the next save", e.Path, e.Err)
	}
	return fmt.Sprintf("progress file %s was unreadable (%v); it was moved to %s and the tutorial starts fresh", e.Path, e.Err, e.MovedTo)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// Load returns the progress for a context. A missing file gives empty
// progress and no error. A corrupt or unreadable file is moved aside and
// reported with a *CorruptError alongside usable, empty progress.
func (st *Store) Load(context string) (*State, error) {
	path := st.Path(context)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return New(context), nil
	}
	if err == nil {
		s := New(context)
		if err = json.Unmarshal(data, s); err == nil {
			err = s.validate()
		}
		if err == nil {
			s.Context = context
			return s, nil
		}
	}
	return New(context), &CorruptError{Path: path, MovedTo: moveAside(path), Err: err}
}

// moveAside renames a bad progress file to a name no earlier copy uses,
// so a second corrupt file within the same second does not overwrite the
// first one's backup. It returns "" when the file could not be moved.
func moveAside(path string) string {
	base := path + ".corrupt-" + time.Now().UTC().Format("20060102T150405Z")
	for i := 0; i < 100; i++ {
		moved := base
		if i > 0 {
			moved = fmt.Sprintf("%s-%d", base, i)
		}
		if _, err := os.Lstat(moved); !errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if os.Rename(path, moved) != nil {
			return ""
		}
		return moved
	}
	return ""
}

func (s *State) validate() error {
	if s.Version != version {
		return fmt.Errorf("format version %d, want %d", s.Version, version)
	}
	if s.Lessons == nil {
		s.Lessons = map[string]*Lesson{}
	}
	for id, l := range s.Lessons {
		if l == nil {
			return fmt.Errorf("lesson %q has no record", id)
		}
		if l.Steps == nil {
			l.Steps = map[string]Step{}
		}
		for a, step := range l.Steps {
			switch step.Status {
			case Done, Skipped, Failed:
			default:
				return fmt.Errorf("lesson %q step %q has unknown status %q", id, a, step.Status)
			}
		}
	}
	return nil
}

// Save writes progress atomically.
func (st *Store) Save(s *State) error { return st.SaveSeq(s, 0) }

// SaveSeq writes progress atomically unless a snapshot with a higher
// sequence number was already written: the UI saves from background
// commands, which may finish out of order. seq 0 always writes.
func (st *Store) SaveSeq(s *State, seq uint64) error {
	path := st.Path(s.Context)
	st.mu.Lock()
	defer st.mu.Unlock()
	if seq != 0 && seq <= st.written[path] {
		return nil
	}
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := writeAtomic(path, append(data, '\n')); err != nil {
		return fmt.Errorf("saving progress: %w", err)
	}
	if seq != 0 {
		st.written[path] = seq
	}
	return nil
}

// writeAtomic writes data to a temporary file in the same directory,
// syncs it and renames it over path, so readers see the old file or the
// new one, never a mix.
func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".progress-*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	// Sync the directory so the rename itself survives a crash.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Reset forgets a context's progress: one lesson when lesson is not
// empty, otherwise everything. It reports whether anything was removed.
func (st *Store) Reset(context, lesson string) (bool, error) {
	if lesson == "" {
		err := os.Remove(st.Path(context))
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return err == nil, err
	}
	s, err := st.Load(context)
	if err != nil {
		return false, err
	}
	if _, ok := s.Lessons[lesson]; !ok {
		return false, nil
	}
	delete(s.Lessons, lesson)
	if s.Last == lesson {
		s.Last = ""
	}
	return true, st.Save(s)
}

// Lessons lists the lesson IDs with any progress, sorted.
func (s *State) LessonIDs() []string {
	var ids []string
	for id := range s.Lessons {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}
