// Package presence lets a presenting meshdojo say where it is, so that
// `meshdojo notes` on a second terminal of the same machine can follow
// it: the presenting instance publishes its lesson and step in a small
// file of its own, replaced atomically on every move and removed when it
// quits; a follower reads the directory of such files. Nothing leaves
// the machine, and a file is only ever read whole (rename, never an
// in-place write), so a follower never sees half a position.
//
// A file rather than a socket: the presenter keeps no server running,
// a follower started before or after it works the same, several
// followers cost the presenter nothing, and a crashed presenter is
// recognised by its process having gone (see alive).
package presence

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/meshdojo/meshdojo/internal/progress"
)

// Position is where a presenting instance is.
type Position struct {
	PID     int       `json:"pid"`
	Started time.Time `json:"started"` // when this instance started presenting
	Since   time.Time `json:"since"`   // when it arrived at this step
	Context string    `json:"context,omitempty"`
	Lesson  string    `json:"lesson"`      // lesson ID
	Step    int       `json:"step"`        // from 0
	Anchor  string    `json:"anchor"`      // the step's anchor, the stable name of the step
	Title   string    `json:"title"`       // the step's title, for a follower whose lessons differ
	Seq     uint64    `json:"seq"`         // increases with every publish of the instance
	Version int       `json:"v,omitempty"` // format version; 1
}

// Dir is where presenters publish: "present" in meshdojo's state
// directory ($XDG_STATE_HOME/meshdojo or ~/.local/state/meshdojo); with
// neither XDG_STATE_HOME nor HOME set, meshdojo under $XDG_RUNTIME_DIR,
// else a directory of the user's own in the system's temporary
// directory. A presenter and a follower started in the same environment
// always agree on it.
func Dir() string {
	if d, err := progress.DefaultDir(); err == nil {
		return filepath.Join(d, "present")
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "meshdojo", "present")
	}
	return filepath.Join(os.TempDir(), "meshdojo-"+strconv.Itoa(os.Getuid()), "present")
}

// Publisher publishes one instance's position.
type Publisher struct {
	dir     string
	pid     int
	started time.Time

	mu   sync.Mutex
	last uint64 // the Seq last written; an older position is never written over a newer one
	seq  uint64
	gone bool
}

// NewPublisher returns a publisher for this process in dir (Dir when
// empty). Nothing is written until the first Publish.
func NewPublisher(dir string, started time.Time) *Publisher {
	if dir == "" {
		dir = Dir()
	}
	return &Publisher{dir: dir, pid: os.Getpid(), started: started}
}

// Dir is the directory the publisher writes to.
func (p *Publisher) Dir() string { return p.dir }

func (p *Publisher) path() string { return filepath.Join(p.dir, strconv.Itoa(p.pid)+".json") }

// Stamp fills in what the publisher knows of pos (its process, its
// start, the next sequence number). Call it where the moves happen, in
// order; Publish may then run anywhere: a position stamped earlier never
// replaces one stamped later.
func (p *Publisher) Stamp(pos Position) Position {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seq++
	pos.PID, pos.Started, pos.Seq, pos.Version = p.pid, p.started, p.seq, 1
	return pos
}

// Publish writes a stamped position atomically. It is safe to call from
// several goroutines.
func (p *Publisher) Publish(pos Position) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gone || pos.Seq <= p.last {
		return nil
	}
	data, err := json.Marshal(pos)
	if err != nil {
		return err
	}
	if err := ensureDir(p.dir); err != nil {
		return fmt.Errorf("cannot publish the presenter's place for meshdojo notes in %s: %w", p.dir, err)
	}
	if err := writeAtomic(p.path(), data); err != nil {
		return fmt.Errorf("cannot publish the presenter's place for meshdojo notes: %w", err)
	}
	p.last = pos.Seq
	return nil
}

// Close removes the published position: followers then see that the
// presenter has quit. Later Publish calls do nothing.
func (p *Publisher) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gone = true
	if p.last == 0 {
		return nil
	}
	if err := os.Remove(p.path()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

func writeAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".pos-*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// Scan reads every live presenter's position in dir, newest presenter
// (latest Started) first. Files of processes that are gone (a presenter
// that crashed) and files that do not parse are left out. A directory
// that does not exist yet is no presenter, not an error.
func Scan(dir string) ([]Position, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Position
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, ".json") || strings.HasPrefix(name, ".") {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSuffix(name, ".json"))
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			continue // removed between the listing and the read: it quit
		}
		var pos Position
		if json.Unmarshal(data, &pos) != nil || pos.PID != pid || pos.Lesson == "" {
			continue
		}
		if !alive(pid) {
			continue
		}
		out = append(out, pos)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Started.Equal(out[j].Started) {
			return out[i].Started.After(out[j].Started)
		}
		return out[i].PID > out[j].PID
	})
	return out, nil
}
