package secret

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// KeyFileName is the file under the data directory that holds a generated master key.
const KeyFileName = "secret.key"

// LoadOrCreate reads the master key from dir/secret.key, creating it (mode 0600) with a
// fresh random key when it does not exist. created reports whether it did.
func LoadOrCreate(dir string) (key []byte, created bool, err error) {
	path := filepath.Join(dir, KeyFileName)
	b, err := os.ReadFile(path)
	if err == nil {
		key, err := ParseKey(string(b))
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", path, err)
		}
		return key, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, false, err
	}
	s := GenerateKey()
	if _, err := f.WriteString(s + "\n"); err != nil {
		f.Close()
		return nil, false, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, false, err
	}
	if err := f.Close(); err != nil {
		return nil, false, err
	}
	key, err = ParseKey(s)
	return key, true, err
}
