package shard

import (
	"context"
	"crypto/tls"
	"net"
	"reflect"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/auth"
	"github.com/redis/go-redis/v9/push"

	"github.com/shardsession/shardsession/failover"
)

// streamingCreds is a StreamingCredentialsProvider that is never called.
type streamingCreds struct{}

func (streamingCreds) Subscribe(auth.CredentialsListener) (auth.Credentials, auth.UnsubscribeFunc, error) {
	return nil, nil, nil
}

// nonZero returns a value of type typ that is not its zero value, or false
// when it cannot make one.
func nonZero(t *testing.T, typ reflect.Type) (reflect.Value, bool) {
	v := reflect.New(typ).Elem()
	switch typ.Kind() {
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(7)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(7)
	case reflect.Pointer:
		v.Set(reflect.New(typ.Elem()))
	case reflect.Func:
		v.Set(reflect.MakeFunc(typ, func([]reflect.Value) []reflect.Value { panic("not called") }))
	case reflect.Interface:
		for _, impl := range []any{streamingCreds{}, push.NewProcessor()} {
			if reflect.TypeOf(impl).Implements(typ) {
				v.Set(reflect.ValueOf(impl))
				return v, true
			}
		}
		return v, false
	default:
		return v, false
	}
	return v, true
}

// same reports whether a and b are the same value; funcs are compared by
// their code pointer.
func same(a, b reflect.Value) bool {
	if a.Kind() == reflect.Func {
		return a.Pointer() == b.Pointer()
	}
	return reflect.DeepEqual(a.Interface(), b.Interface())
}

// Every exported field of the client template reaches a Sentinel shard's
// clients, except the ones go-redis FailoverOptions cannot take
// (droppedByFailover): a field go-redis adds later fails this test until
// it is copied or listed.
func TestFailoverOptionsCopyTemplate(t *testing.T) {
	typ := reflect.TypeFor[redis.Options]()
	fo := reflect.TypeFor[redis.FailoverOptions]()
	for f := range typ.Fields() {
		if !f.IsExported() {
			continue
		}
		t.Run(f.Name, func(t *testing.T) {
			if slices.Contains(droppedByFailover, f.Name) {
				if _, ok := fo.FieldByName(f.Name); ok {
					t.Fatalf("%s is listed as dropped but FailoverOptions has it: copy it", f.Name)
				}
				return
			}
			val, ok := nonZero(t, f.Type)
			if !ok {
				t.Fatalf("no test value for %s (%v): extend nonZero", f.Name, f.Type)
			}
			var tmpl redis.Options
			reflect.ValueOf(&tmpl).Elem().FieldByIndex(f.Index).Set(val)
			got := reflect.ValueOf(failoverOptions(&failover.Options{MasterName: "m", SentinelAddrs: []string{"127.0.0.1:1"}}, &tmpl, false)).Elem().FieldByName(f.Name)
			if !got.IsValid() {
				t.Fatalf("FailoverOptions has no %s: add it to droppedByFailover, with why", f.Name)
			}
			if !same(got, val) {
				t.Fatalf("%s of the template is dropped for Sentinel shards", f.Name)
			}
		})
	}
}

// A Sentinel shard's clients open connections with the template's Dialer,
// OnConnect and credentials provider: go-redis calls them for the sentinel
// lookups and the data nodes alike.
func TestFailoverOptionsKeepDialer(t *testing.T) {
	var dialed atomic.Bool
	tmpl := &redis.Options{
		Dialer: func(ctx context.Context, network, addr string) (_ net.Conn, err error) {
			dialed.Store(true)
			return nil, context.Canceled
		},
		TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12},
	}
	c := redis.NewFailoverClient(failoverOptions(&failover.Options{MasterName: "m", SentinelAddrs: []string{"127.0.0.1:1"}}, tmpl, false))
	defer c.Close()
	c.Ping(context.Background())
	if !dialed.Load() {
		t.Fatal("the template's Dialer was not used")
	}
}
