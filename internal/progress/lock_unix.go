//go:build unix

package progress

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// lockWait bounds how long a save waits for another instance's save.
// A save holds the lock for one read and one small write.
const lockWait = 10 * time.Second

// lockDir takes an exclusive flock on the state directory itself and
// returns the function that releases it.
//
// flock rather than a lock file created with O_EXCL: the kernel drops
// the lock when its process dies, so a crash mid-save never leaves a
// stale lock for the next start to guess about. The directory rather
// than the progress file: the file is replaced by rename on every save,
// so a lock on it would guard an inode that is about to be unlinked,
// while the directory stays the same; and it adds no file next to the
// progress files.
func lockDir(dir string) (func(), error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(lockWait)
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() {
				unix.Flock(int(f.Fd()), unix.LOCK_UN)
				f.Close()
			}, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", dir, err)
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("another meshdojo has held the lock on %s for %v; is one stuck? (see: fuser %s)", dir, lockWait, dir)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
