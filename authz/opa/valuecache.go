package opa

import (
	"context"

	"github.com/open-policy-agent/opa/v1/topdown/cache"
)

// valueCacheConfig turns on OPA's io_jwt cache, which OPA leaves off by default: a token seen
// again with the same keys skips signature verification (its claims, exp and nbf included, are
// still checked on every evaluation). The bound is the verified-token cache's of authz/jwt.
const valueCacheConfig = `{"inter_query_builtin_value_cache": {"named": {"io_jwt": {"max_num_entries": 10000}}}}`

func newValueCache() (cache.InterQueryValueCache, error) {
	cfg, err := cache.ParseCachingConfig([]byte(valueCacheConfig))
	if err != nil {
		return nil, err
	}
	return cache.NewInterQueryValueCache(context.Background(), cfg), nil
}
