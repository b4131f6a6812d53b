package redisauth

import "errors"

// ErrNoCredentials is returned when a StreamingCredentialsProvider
// subscribes without giving current credentials.
var ErrNoCredentials = errors.New("shardsession: the credentials provider gave no credentials")
