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
//
// Several instances may hold the same context's progress at once (two
// terminals, or meshdojo progress --reset while the tutorial runs). Each
// State therefore remembers the changes made through it since it was
// loaded, and Save applies only those to what is on disk, so one
// instance never overwrites another's records. Reset and Resets are the
// times progress was forgotten: a change made before them is not applied.
type State struct {
	Version int                `json:"version"`
	Context string             `json:"context"`
	Last    string             `json:"last,omitempty"` // lesson ID opened last, for resuming
	Lessons map[string]*Lesson `json:"lessons"`
	Updated time.Time          `json:"updated"`
	// Reset is when all of the context's progress was last forgotten.
	Reset time.Time `json:"reset,omitzero"`
	// Resets is when each lesson's progress was last forgotten.
	Resets map[string]time.Time `json:"resets,omitempty"`

	log    *changes // shared with clones, so a snapshot saved in the background records what it wrote
	synced uint64   // the last change of log already in these records (see Adopt)
}

const version = 1

// New returns empty progress for a context.
func New(context string) *State {
	return &State{Version: version, Context: context, Lessons: map[string]*Lesson{}, log: newChanges()}
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

// Mark records a step's status.
func (s *State) Mark(lesson, step string, st Status, now time.Time) {
	s.change(change{kind: mark, lesson: lesson, step: step, status: st, at: now.Round(0)})
}

// Forget drops a step's recorded status, as if it had never been
// checked, skipped or failed; the step becomes current.
func (s *State) Forget(lesson, step string, now time.Time) {
	now = now.Round(0)
	s.change(change{kind: forget, lesson: lesson, step: step, at: now})
	s.change(change{kind: current, lesson: lesson, step: step, at: now})
}

// SetCurrent records the step the reader is on.
func (s *State) SetCurrent(lesson, step string, now time.Time) {
	s.change(change{kind: current, lesson: lesson, step: step, at: now.Round(0)})
}

// change applies c here and logs it for the next Save.
func (s *State) change(c change) {
	if s.log == nil {
		s.log = newChanges()
	}
	s.log.add(c)
	s.apply(c)
}

// apply merges one change into the records. A change older than a reset
// that covers it is dropped (the reset wins); of two records of the same
// step, the newer wins, except that a step once done stays done until it
// is forgotten, as in the tutorial itself.
func (s *State) apply(c change) {
	if !c.at.After(s.Reset) || !c.at.After(s.Resets[c.lesson]) {
		return
	}
	l := s.Lesson(c.lesson)
	old, had := l.Steps[c.step]
	switch c.kind {
	case mark:
		if had && (old.At.After(c.at) || old.Status == Done && c.status != Done) {
			break
		}
		l.Steps[c.step] = Step{Status: c.status, At: c.at}
	case forget:
		if had && !old.At.After(c.at) {
			delete(l.Steps, c.step)
		}
	case current:
		if !l.Updated.After(c.at) {
			l.Current = c.step
		}
	}
	if l.Started.IsZero() || c.at.Before(l.Started) {
		l.Started = c.at
	}
	if c.at.After(l.Updated) {
		l.Updated = c.at
	}
	if !c.at.Before(s.Updated) {
		s.Last, s.Updated = c.lesson, c.at
	}
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

// Clone returns a deep copy of the records, so a snapshot can be saved
// in the background while the UI goes on changing the original. The
// copy shares the original's log of changes: saving it saves the
// original's changes, and Adopt brings the result back.
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
	if s.Resets != nil {
		c.Resets = make(map[string]time.Time, len(s.Resets))
		for k, v := range s.Resets {
			c.Resets[k] = v
		}
	}
	return &c
}

// Adopt takes the records of a saved snapshot of s (a Clone given to
// Save, which holds what is on disk after the save, other instances'
// records included), keeping the changes made through s since.
func (s *State) Adopt(saved *State) {
	if saved == nil || saved.log != s.log || s.log == nil || saved.synced < s.synced {
		return // not ours, or older than what was adopted already
	}
	c := saved.Clone()
	later := s.log.since(saved.synced)
	s.Last, s.Lessons, s.Updated, s.Reset, s.Resets = c.Last, c.Lessons, c.Updated, c.Reset, c.Resets
	s.synced = saved.synced
	for _, ch := range later {
		s.apply(ch)
	}
}

type changeKind int

const (
	mark changeKind = iota
	forget
	current
)

// change is one thing an instance did to its progress.
type change struct {
	id           uint64
	kind         changeKind
	lesson, step string
	status       Status
	at           time.Time
}

// key names what a change is about; a later change with the same key
// supersedes an earlier one, so the log holds at most one change per
// step and one current step per lesson.
func (c change) key() string {
	if c.kind == current {
		return "current\x00" + c.lesson
	}
	return "step\x00" + c.lesson + "\x00" + c.step
}

// changes is an instance's log of changes not yet written.
type changes struct {
	mu    sync.Mutex
	next  uint64
	byKey map[string]change
}

func newChanges() *changes { return &changes{byKey: map[string]change{}} }

func (l *changes) add(c change) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.next++
	c.id = l.next
	l.byKey[c.key()] = c
}

// pending returns every change not yet written, oldest first, and the
// id of the last change made so far.
func (l *changes) pending() ([]change, uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sinceLocked(0), l.next
}

// since returns the changes after id, oldest first.
func (l *changes) since(id uint64) []change {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sinceLocked(id)
}

func (l *changes) sinceLocked(id uint64) []change {
	var out []change
	for _, c := range l.byKey {
		if c.id > id {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// written forgets the changes up to id, now on disk.
func (l *changes) written(id uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, c := range l.byKey {
		if c.id <= id {
			delete(l.byKey, k)
		}
	}
}

// Store reads and writes progress files in one directory.
type Store struct {
	Dir string
	err error // why there is no directory; reading gives empty progress, saving fails

	mu sync.Mutex // one save at a time within the process; lockDir guards against others
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
// trace. When there is no place for progress (neither XDG_STATE_HOME nor
// HOME set), the store still opens: reading gives empty progress, and
// saving returns the error that says what to set.
func Open(dir string) (*Store, error) {
	if dir == "" {
		d, err := DefaultDir()
		if err != nil {
			return &Store{err: err}, nil
		}
		dir = d
	}
	return &Store{Dir: dir}, nil
}

// Err says why the store cannot save, or nil.
func (st *Store) Err() error { return st.err }

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
	if st.err != nil {
		return New(context), nil
	}
	path := st.Path(context)
	s, err := read(path, context)
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	// Move it aside under the lock, and only if it is still bad: another
	// instance may have just replaced it with a good file.
	if unlock, lerr := lockDir(st.Dir); lerr == nil {
		defer unlock()
		if s, err = read(path, context); err == nil || errors.Is(err, fs.ErrNotExist) {
			return s, nil
		}
	}
	return New(context), &CorruptError{Path: path, MovedTo: moveAside(path), Err: err}
}

// read reads one progress file; fs.ErrNotExist when there is none, and
// then empty progress.
func read(path, context string) (*State, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return New(context), err
	}
	s := New(context)
	if err = json.Unmarshal(data, s); err == nil {
		err = s.validate()
	}
	if err != nil {
		return New(context), err
	}
	s.Context = context
	return s, nil
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

// Save merges the changes made through s into the context's file and
// then makes s what the file holds, other instances' records included.
//
// Under a lock on the state directory it re-reads the file, applies only
// the changes made through s (or its clones) since the last save, and
// writes the result atomically, so two instances never lose each
// other's records, and an instance does not bring back what a reset
// removed. When the file is missing or unreadable, all of s's records are
// written (an unreadable file is first moved aside and reported with a
// *CorruptError, which is a warning: the save itself succeeded).
func (st *Store) Save(s *State) error {
	if st.err != nil {
		return fmt.Errorf("saving progress: %w", st.err)
	}
	if s.log == nil {
		s.log = newChanges()
	}
	path := st.Path(s.Context)
	st.mu.Lock()
	defer st.mu.Unlock()
	if err := os.MkdirAll(st.Dir, 0o700); err != nil {
		return fmt.Errorf("saving progress: %w", err)
	}
	unlock, err := lockDir(st.Dir)
	if err != nil {
		return fmt.Errorf("saving progress: %w", err)
	}
	defer unlock()

	todo, upTo := s.log.pending()
	disk, rerr := read(path, s.Context)
	var warn error
	whole := rerr != nil // no usable file: write everything this instance knows
	if rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
		warn = &CorruptError{Path: path, MovedTo: moveAside(path), Err: rerr}
	}
	if whole {
		disk = s.Clone()
	}
	disk.log = nil
	for _, c := range todo {
		disk.apply(c)
	}
	if whole || len(todo) > 0 {
		data, err := json.MarshalIndent(disk, "", "  ")
		if err != nil {
			return err
		}
		if err := writeAtomic(path, append(data, '\n')); err != nil {
			return fmt.Errorf("saving progress: %w", err)
		}
	}
	s.log.written(upTo)
	s.Last, s.Lessons, s.Updated, s.Reset, s.Resets = disk.Last, disk.Lessons, disk.Updated, disk.Reset, disk.Resets
	s.synced = upTo
	return warn
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
// The time of the reset is kept in the file, so an instance running
// meanwhile does not bring back, on its next save, records made before
// it.
func (st *Store) Reset(context, lesson string) (bool, error) {
	if st.err != nil {
		return false, st.err
	}
	path := st.Path(context)
	st.mu.Lock()
	defer st.mu.Unlock()
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return false, nil // nothing to forget; no instance has saved yet
	}
	unlock, err := lockDir(st.Dir)
	if err != nil {
		return false, err
	}
	defer unlock()
	s, rerr := read(path, context)
	if errors.Is(rerr, fs.ErrNotExist) {
		return false, nil
	}
	var warn error
	if rerr != nil {
		warn = &CorruptError{Path: path, MovedTo: moveAside(path), Err: rerr}
	}
	now := time.Now().Round(0)
	removed := false
	if lesson == "" {
		removed = len(s.Lessons) > 0
		s.Lessons, s.Last, s.Resets, s.Reset = map[string]*Lesson{}, "", nil, now
	} else {
		_, removed = s.Lessons[lesson]
		delete(s.Lessons, lesson)
		if s.Last == lesson {
			s.Last = ""
		}
		if s.Resets == nil {
			s.Resets = map[string]time.Time{}
		}
		s.Resets[lesson] = now
	}
	s.Updated = now
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return false, err
	}
	if err := writeAtomic(path, append(data, '\n')); err != nil {
		return false, err
	}
	return removed, warn
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
