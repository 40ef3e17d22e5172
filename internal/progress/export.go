package progress

// WriteAtomic writes data to path the way progress files are written: a
// temporary file in the same directory, synced, then renamed over path,
// so a reader sees the old file or the new one, never a half-written one.
// Other state files (the break records of internal/breaks) use it.
func WriteAtomic(path string, data []byte) error { return writeAtomic(path, data) }

// LockDir takes the state directory's exclusive lock, as Save does, and
// returns the function that releases it.
func LockDir(dir string) (func(), error) { return lockDir(dir) }
