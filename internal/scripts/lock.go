package scripts

import "github.com/redis/go-redis/v9"

// Unlock deletes a lock only if its holder is still ARGV[1], so a holder
// whose lock expired cannot free the next holder's.
//
// KEYS[1] lock key; ARGV[1] owner.
var Unlock = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("DEL", KEYS[1])
end
return 0
`)
