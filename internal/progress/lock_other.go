//go:build !unix

package progress

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

const lockWait = 10 * time.Second

// lockDir takes the state directory's lock where flock does not exist:
// a lock file created exclusively. A lock file older than lockWait is
// taken to be left by a crash (a save holds it for milliseconds).
func lockDir(dir string) (func(), error) {
	path := filepath.Join(dir, ".lock")
	deadline := time.Now().Add(lockWait)
	for {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err == nil {
			f.Close()
			return func() { os.Remove(path) }, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("locking %s: %w", dir, err)
		}
		if fi, serr := os.Stat(path); serr == nil && time.Since(fi.ModTime()) > lockWait {
			os.Remove(path)
			continue
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("another meshdojo holds %s; remove it if no meshdojo is running", path)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
