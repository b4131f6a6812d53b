// Package tracing puts OpenTelemetry spans (go.opentelemetry.io/otel)
// around session loads, saves and deletes. It is opt-in and separate so
// that the core does not depend on OpenTelemetry.
//
// Wrap a session.Store (typically the *cluster.Cluster) and give the
// wrapper to the Manager:
//
//	sessions := session.New(tracing.Wrap(c, tracing.Options{}))
//
// Each span is named "shardsession.load", "shardsession.save" or
// "shardsession.delete", is a child of the request's span (from the
// context), and carries the shard that owns the session
// (shardsession.shard), which node answered a load and whether it was a
// replica, the record's version, and the error if any. Session IDs are
// never recorded: they are credentials.
package tracing
