package redistest

import (
	"errors"
	"fmt"
	"os/exec"
)

// Names of the binaries this package runs, looked up on PATH.
const (
	serverBin   = "redis-server"
	sentinelBin = "redis-sentinel"
)

// InstallHint is the command that installs the binaries this package needs.
const InstallHint = "apt-get install -y redis-server redis-sentinel redis-tools"

// ErrNotInstalled is wrapped by the errors returned when redis-server or
// redis-sentinel is not found on PATH.
var ErrNotInstalled = errors.New("redistest: redis binaries not installed")

// CheckInstalled reports whether redis-server, and redis-sentinel when
// withSentinel is true, are on PATH. The error wraps [ErrNotInstalled] and
// names the Debian packages to install.
func CheckInstalled(withSentinel bool) error {
	bins := []string{serverBin}
	if withSentinel {
		bins = append(bins, sentinelBin)
	}
	for _, b := range bins {
		if _, err := lookBin(b); err != nil {
			return err
		}
	}
	return nil
}

// lookBin finds bin on PATH, or returns an error wrapping ErrNotInstalled
// that names the packages to install.
func lookBin(bin string) (string, error) {
	p, err := exec.LookPath(bin)
	if err != nil {
		return "", fmt.Errorf("%w: %s not found on PATH (%v); install it with: %s", ErrNotInstalled, bin, err, InstallHint)
	}
	return p, nil
}
