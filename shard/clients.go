package shard

import (
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/shardsession/shardsession/failover"
)

// The go-redis clients of a shard found through Sentinel, built from the
// shard's client template.

// failFast returns a copy of tmpl with the retry settings this package
// relies on: at most one retry of a command (go-redis retries EOF and
// READONLY, which is right once during a switch and wasteful after it,
// #784/#3540) and one dial attempt per connection (go-redis v9.23 otherwise
// dials five times with 100 ms pauses, so a dead node costs seconds
// instead of a refused connection). Fields tmpl sets explicitly are kept.
func failFast(tmpl redis.Options) redis.Options {
	if tmpl.MaxRetries == 0 {
		tmpl.MaxRetries = 1
	}
	if tmpl.MinRetryBackoff == 0 {
		tmpl.MinRetryBackoff = 10 * time.Millisecond
	}
	if tmpl.MaxRetryBackoff == 0 {
		tmpl.MaxRetryBackoff = 100 * time.Millisecond
	}
	if tmpl.DialerRetries == 0 {
		tmpl.DialerRetries = 1
	}
	return tmpl
}

// droppedByFailover are the fields of redis.Options that go-redis
// FailoverOptions has no counterpart for, so a Sentinel shard cannot pass
// them on: Network and Addr (Sentinel names the addresses), NodeAddress,
// Limiter, MaintNotificationsConfig (go-redis turns maintenance
// notifications off for failover clients) and the client-side cache
// settings (the near cache, package cluster, does that job). Every other
// field is copied by failoverOptions; TestFailoverOptionsCopyTemplate
// fails when go-redis adds one that is neither copied nor listed here.
var droppedByFailover = []string{
	"Network", "Addr", "NodeAddress", "Limiter", "MaintNotificationsConfig",
	"ClientSideCacheConfig", "ClientSideCache", "ClientSideCacheStrategy",
	"ClientSideCacheRefreshOnInvalidate", "ClientSideCacheCoalesceMisses",
	"ClientSideCacheInvalidationBatchWindow",
}

// failoverOptions turns the shard's client template into go-redis
// FailoverOptions for o: every field of the template that FailoverOptions
// has (droppedByFailover lists the rest). go-redis uses the template's
// Dialer, OnConnect, TLSConfig and timeouts for its connections to the
// sentinels too, with SentinelUsername and SentinelPassword.
func failoverOptions(o *failover.Options, tmpl *redis.Options, replicaOnly bool) *redis.FailoverOptions {
	t := failFast(*tmpl)
	return &redis.FailoverOptions{
		MasterName:       o.MasterName,
		SentinelAddrs:    append([]string(nil), o.SentinelAddrs...),
		SentinelUsername: o.SentinelUsername,
		SentinelPassword: o.SentinelPassword,
		ReplicaOnly:      replicaOnly,

		ClientName: t.ClientName,
		Dialer:     t.Dialer,
		OnConnect:  t.OnConnect,

		Protocol:                     t.Protocol,
		Username:                     t.Username,
		Password:                     t.Password,
		CredentialsProvider:          t.CredentialsProvider,
		CredentialsProviderContext:   t.CredentialsProviderContext,
		StreamingCredentialsProvider: t.StreamingCredentialsProvider,
		DB:                           t.DB,

		MaxRetries:            t.MaxRetries,
		MinRetryBackoff:       t.MinRetryBackoff,
		MaxRetryBackoff:       t.MaxRetryBackoff,
		DialTimeout:           t.DialTimeout,
		DialerRetries:         t.DialerRetries,
		DialerRetryTimeout:    t.DialerRetryTimeout,
		DialerRetryBackoff:    t.DialerRetryBackoff,
		ReadTimeout:           t.ReadTimeout,
		WriteTimeout:          t.WriteTimeout,
		ContextTimeoutEnabled: t.ContextTimeoutEnabled,

		ReadBufferSize:          t.ReadBufferSize,
		WriteBufferSize:         t.WriteBufferSize,
		PipelineReadBufferSize:  t.PipelineReadBufferSize,
		PipelineWriteBufferSize: t.PipelineWriteBufferSize,
		PipelinePoolSize:        t.PipelinePoolSize,
		AutoPipelineOptions:     t.AutoPipelineOptions,

		PoolFIFO:              t.PoolFIFO,
		PoolSize:              t.PoolSize,
		MaxConcurrentDials:    t.MaxConcurrentDials,
		PoolTimeout:           t.PoolTimeout,
		MinIdleConns:          t.MinIdleConns,
		MaxIdleConns:          t.MaxIdleConns,
		MaxActiveConns:        t.MaxActiveConns,
		ConnMaxIdleTime:       t.ConnMaxIdleTime,
		ConnMaxLifetime:       t.ConnMaxLifetime,
		ConnMaxLifetimeJitter: t.ConnMaxLifetimeJitter,

		TLSConfig: t.TLSConfig,

		DisableIndentity: t.DisableIndentity, //nolint:staticcheck // deprecated spelling, still honoured by go-redis
		DisableIdentity:  t.DisableIdentity,
		IdentitySuffix:   t.IdentitySuffix,

		FailingTimeoutSeconds:     t.FailingTimeoutSeconds,
		UnstableResp3:             t.UnstableResp3,
		PushNotificationProcessor: t.PushNotificationProcessor,
	}
}

// newSentinelPrimary returns a client of the primary that the sentinels name
// o.MasterName, built from the shard's client template tmpl with failFast
// retries (redis.NewFailoverClient). After a switch go-redis drops pooled
// connections to other addresses (#3703) and dials the new primary.
func newSentinelPrimary(o *failover.Options, tmpl *redis.Options) (*redis.Client, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	return redis.NewFailoverClient(failoverOptions(o, tmpl, false)), nil
}
