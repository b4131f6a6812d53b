package redistest

import (
	"fmt"
	"net"
)

// freePort asks the kernel for a free TCP port on 127.0.0.1 and releases it.
// Another process may take the port before redis binds it; callers retry
// with a new port when the bind fails.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("redistest: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
