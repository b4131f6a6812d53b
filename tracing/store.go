package tracing

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/shardsession/shardsession/session"
	"github.com/shardsession/shardsession/store"
)

// Options configure a traced Store. The zero value works.
type Options struct {
	// TracerProvider makes the tracer. Default otel.GetTracerProvider(),
	// the global one.
	TracerProvider trace.TracerProvider
}

// Store is a session.Store that traces every call to the Store it wraps.
// It is safe for concurrent use if the wrapped Store is.
type Store struct {
	next   session.Store
	tracer trace.Tracer
}

// Wrap returns next with tracing. If next can locate sessions
// (session.Locator, as *cluster.Cluster does), spans carry the shard and
// the wrapper locates too. The Manager finds next's other optional
// capabilities (user index, locks, events, Iterate) through Unwrap; those
// calls are not traced.
func Wrap(next session.Store, opt Options) *Store {
	tp := opt.TracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	return &Store{next: next, tracer: tp.Tracer("github.com/shardsession/shardsession/tracing")}
}

// Unwrap returns the Store that s traces (store.Unwrapper).
func (s *Store) Unwrap() store.Store { return s.next }

// Attribute keys of the spans.
const (
	ShardKey   = attribute.Key("shardsession.shard")
	NodeKey    = attribute.Key("server.address")
	ReplicaKey = attribute.Key("shardsession.replica")
	RetriedKey = attribute.Key("shardsession.retried")
	FoundKey   = attribute.Key("shardsession.found")
	VersionKey = attribute.Key("shardsession.version")
	ModeKey    = attribute.Key("shardsession.write_mode")
)

var modeNames = map[store.WriteMode]string{store.Create: "create", store.Update: "update", store.Touch: "touch"}

// start opens a span for op on id's shard.
func (s *Store) start(ctx context.Context, op, id string) (context.Context, trace.Span) {
	ctx, span := s.tracer.Start(ctx, "shardsession."+op, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system.name", "redis")))
	if shard := s.Locate(id); shard != "" {
		span.SetAttributes(ShardKey.String(shard))
	}
	return ctx, span
}

// end records err on span and ends it.
func end(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// Load loads through the wrapped Store in a "shardsession.load" span.
func (s *Store) Load(ctx context.Context, id string, opt store.LoadOptions) (map[string]string, bool, error) {
	ctx, span := s.start(ctx, "load", id)
	info := opt.Info
	if info == nil {
		info = new(store.ReadInfo)
		opt.Info = info
	}
	fields, found, err := s.next.Load(ctx, id, opt)
	span.SetAttributes(FoundKey.Bool(found))
	if info.Node != "" {
		span.SetAttributes(NodeKey.String(info.Node), ReplicaKey.Bool(info.Replica), RetriedKey.Bool(info.Retried))
	}
	if found {
		span.SetAttributes(VersionKey.Int64(store.Version(fields)))
	}
	end(span, err)
	return fields, found, err
}

// Save saves through the wrapped Store in a "shardsession.save" span.
func (s *Store) Save(ctx context.Context, id string, w store.Write) (int64, error) {
	ctx, span := s.start(ctx, "save", id)
	span.SetAttributes(ModeKey.String(modeNames[w.Mode]))
	v, err := s.next.Save(ctx, id, w)
	if err == nil {
		span.SetAttributes(VersionKey.Int64(v))
	}
	end(span, err)
	return v, err
}

// Delete deletes through the wrapped Store in a "shardsession.delete" span.
func (s *Store) Delete(ctx context.Context, id string) error {
	ctx, span := s.start(ctx, "delete", id)
	err := s.next.Delete(ctx, id)
	end(span, err)
	return err
}

// Locate returns the shard of id if the wrapped Store can tell, else "".
// It implements session.Locator.
func (s *Store) Locate(id string) string {
	if l, ok := s.next.(session.Locator); ok {
		return l.Locate(id)
	}
	return ""
}

var (
	_ session.Store   = (*Store)(nil)
	_ session.Locator = (*Store)(nil)
	_ store.Unwrapper = (*Store)(nil)
)
