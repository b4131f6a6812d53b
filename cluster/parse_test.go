package cluster_test

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/shard"
)

func TestParseShards(t *testing.T) {
	tests := []struct {
		in   string
		want []shard.Options
	}{
		{"s0=a:1", []shard.Options{{Name: "s0", Addr: "a:1", Replicas: []string{}}}},
		{" s0 = a:1 + b:2 , s1=c:3,", []shard.Options{
			{Name: "s0", Addr: "a:1", Replicas: []string{"b:2"}},
			{Name: "s1", Addr: "c:3", Replicas: []string{}},
		}},
		{"", nil},
		{"a:1", nil},
		{"=a:1", nil},
		{"s0=", nil},
		{"s0=+b:2", nil},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := cluster.ParseShards(tt.in)
			if tt.want == nil {
				if !errors.Is(err, cluster.ErrBadOptions) {
					t.Fatalf("ParseShards(%q) = %v, %v; want ErrBadOptions", tt.in, got, err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseShards(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
		})
	}
}

func ExampleParseShards() {
	shards, err := cluster.ParseShards("s0=10.0.0.1:6379+10.0.0.4:6379,s1=10.0.0.2:6379")
	if err != nil {
		panic(err)
	}
	c, err := cluster.New(cluster.Options{Shards: shards})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	fmt.Println(len(c.Shards()), c.Shards()[0].Name())
	// Output: 2 s0
}
