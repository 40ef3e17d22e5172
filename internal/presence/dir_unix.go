//go:build unix

package presence

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// ensureDir creates dir for this user only, and refuses one that
// another user owns or may write to: in the shared temporary directory
// someone else could have made it first to feed followers positions.
func ensureDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.IsDir():
		return fmt.Errorf("%s is not a directory", dir)
	case ok && int(st.Uid) != os.Getuid():
		return fmt.Errorf("%s belongs to another user; remove it or set XDG_STATE_HOME", dir)
	case fi.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("%s may be written by other users (mode %v); chmod 700 it", dir, fi.Mode().Perm())
	}
	return nil
}

// alive reports whether process pid exists: signal 0 checks without
// sending anything. EPERM means it exists but is another user's.
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
