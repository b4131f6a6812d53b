// Package redisauth gives the connections the library opens outside a
// go-redis client (the near cache's tracking stream, the AUTH arguments of
// MIGRATE) the credentials a go-redis client would use.
package redisauth

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/auth"
)

// Credentials returns the username and password a new connection made
// with opt authenticates with, asked afresh each time so that a rotated
// password is picked up, in go-redis's order: StreamingCredentialsProvider
// (its current credentials), CredentialsProviderContext,
// CredentialsProvider, then Username and Password.
func Credentials(ctx context.Context, opt *redis.Options) (user, pass string, err error) {
	switch {
	case opt.StreamingCredentialsProvider != nil:
		creds, unsubscribe, err := opt.StreamingCredentialsProvider.Subscribe(ignoreCredentials{})
		if err != nil {
			return "", "", fmt.Errorf("shardsession: credentials: %w", err)
		}
		if unsubscribe != nil {
			defer unsubscribe()
		}
		if creds == nil {
			return "", "", ErrNoCredentials
		}
		user, pass = creds.BasicAuth()
		return user, pass, nil
	case opt.CredentialsProviderContext != nil:
		user, pass, err = opt.CredentialsProviderContext(ctx)
		if err != nil {
			return "", "", fmt.Errorf("shardsession: credentials: %w", err)
		}
		return user, pass, nil
	case opt.CredentialsProvider != nil:
		user, pass = opt.CredentialsProvider()
		return user, pass, nil
	}
	return opt.Username, opt.Password, nil
}

// ignoreCredentials is the listener Credentials subscribes with: a
// tracking connection is authenticated once, when it is made; a later
// password is used by the next connection.
type ignoreCredentials struct{}

func (ignoreCredentials) OnNext(auth.Credentials) {}
func (ignoreCredentials) OnError(error)           {}
