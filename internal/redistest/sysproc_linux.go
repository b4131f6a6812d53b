package redistest

import "syscall"

// sysProcAttr puts the child in its own process group, so a Ctrl-C in a
// terminal reaches only the parent, which then shuts the child down; and
// asks the kernel to SIGKILL the child if the parent dies first.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
