//go:build unix && !linux

package redistest

import "syscall"

// sysProcAttr puts the child in its own process group, so a Ctrl-C in a
// terminal reaches only the parent, which then shuts the child down.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
