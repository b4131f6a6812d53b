// Package fleet is the seed article's login/logout demo done right: several
// stateless web nodes behind a round-robin proxy, sharing sessions through a
// shardsession cluster. Each user has a session of their own (the article's
// demo kept one global user_id for everybody), a login renews the token
// against fixation, and a logout destroys the session on every node at once.
//
// `shardsession demo` runs it on a local topology; the tests run it too.
package fleet
