package rediscluster

import "errors"

// ErrBadOptions is wrapped by every validation error of New.
var ErrBadOptions = errors.New("shardsession: bad redis cluster options")
