package ring

import "errors"

// ErrUnsatisfiable is wrapped by every error of Config.Validate and Table:
// a configuration the ring library cannot build.
var ErrUnsatisfiable = errors.New("ring: configuration cannot be satisfied")
