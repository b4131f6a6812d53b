package tracing_test

import (
	"context"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/shardsession/shardsession/internal/clustertest"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/session"
	"github.com/shardsession/shardsession/tracing"
)

func TestSpansAroundLoadSaveDelete(t *testing.T) {
	c, _ := clustertest.New(t, redistest.TopologyOptions{Shards: 3})
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	m := session.New(tracing.Wrap(c, tracing.Options{TracerProvider: tp}))

	ctx, err := m.Load(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	m.Put(ctx, "user", "ada")
	token, _, err := m.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ctx, err = m.Load(context.Background(), token)
	if err != nil || m.GetString(ctx, "user") != "ada" {
		t.Fatalf("load through the traced store: %q, %v", m.GetString(ctx, "user"), err)
	}
	shard, _ := m.Shard(ctx)
	if err := m.Destroy(ctx); err != nil {
		t.Fatal(err)
	}

	// The Cluster's optional capabilities stay reachable through the wrapper.
	if _, err := m.ListByUser(context.Background(), "nobody"); err != nil {
		t.Fatalf("ListByUser through the traced store: %v", err)
	}

	var names []string
	for _, s := range rec.Ended() {
		names = append(names, s.Name())
		attrs := map[string]string{}
		for _, kv := range s.Attributes() {
			attrs[string(kv.Key)] = kv.Value.Emit()
			if strings.Contains(kv.Value.Emit(), token) {
				t.Errorf("span %s records the session token in %s", s.Name(), kv.Key)
			}
		}
		if attrs[string(tracing.ShardKey)] != shard {
			t.Errorf("span %s: shard %q, want %q (%v)", s.Name(), attrs[string(tracing.ShardKey)], shard, attrs)
		}
		if s.Name() == "shardsession.load" && (attrs[string(tracing.FoundKey)] != "true" || attrs[string(tracing.NodeKey)] == "") {
			t.Errorf("load span: %v", attrs)
		}
	}
	got := strings.Join(names, " ")
	for _, want := range []string{"shardsession.save", "shardsession.load", "shardsession.delete"} {
		if !strings.Contains(got, want) {
			t.Errorf("no %s span among %s", want, got)
		}
	}
}
