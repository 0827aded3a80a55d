"""redis-py 8's RedisCluster against a slotraft cluster, run by tests/cluster/redis_py.rs.

The newest cluster clients route by what COMMAND tells them: a keyless command goes to every
primary when its request_policy tip says all_shards, its replies are summed when the
response_policy tip says agg_sum, and a command over keys of several slots is split by its
key specifications (multi_shard). Without the tips, DBSIZE and KEYS reach one node and
answer that node's share of the keyspace.

redis-py 8 routes by records it ships unless it is given a resolver built from the server's
own COMMAND reply, which its documentation names as the way to route by the connected
server: that is the client tested here.

Usage: python redis_py_cluster.py HOST PORT
"""

import sys

from redis.cluster import RedisCluster
from redis.commands.metadata import DynamicMetadataResolver

host, port = sys.argv[1], int(sys.argv[2])
# The COMMAND reply of the cluster, read once, decides every command's routing.
probe = RedisCluster(host=host, port=port, decode_responses=True)
server_records = probe.commands_parser.get_commands_metadata_cache()
probe.close()
rc = RedisCluster(
    host=host,
    port=port,
    decode_responses=True,
    metadata_resolver=DynamicMetadataResolver(server_records),
)
failures = []


def check(what, run, want):
    try:
        got = run()
    except Exception as e:  # a failure to report, not to stop at
        failures.append(f"{what}: raised {type(e).__name__}: {e}")
        return
    if got != want:
        failures.append(f"{what}: got {got!r}, want {want!r}")


keys = [f"key:{i}" for i in range(100)]
for i, key in enumerate(keys):
    rc.set(key, str(i))
slots = {rc.keyslot(k) for k in keys}
check("the keys span several slots", lambda: len(slots) > 10, True)

# request_policy:all_shards, response_policy:agg_sum
check("DBSIZE", lambda: rc.dbsize(), 100)
# request_policy:all_shards, the replies concatenated
check("KEYS *", lambda: sorted(rc.keys()), sorted(keys))
check("KEYS key:1*", lambda: sorted(rc.keys("key:1*")), sorted(k for k in keys if k.startswith("key:1")))
# SCAN's request_policy is special (as Redis 7.2 says): redis-py picks nodes for it only for
# FT.CURSOR, so the primaries are named, as the static records would have chosen them.
check("SCAN", lambda: sorted(rc.scan_iter(count=7, target_nodes=RedisCluster.PRIMARIES)), sorted(keys))

# request_policy:multi_shard: split by the key specs, one command per slot
pairs = {f"m:{i}": f"v{i}" for i in range(30)}
check("MSET over slots", lambda: rc.mset(pairs), True)
check("MGET over slots", lambda: rc.mget(list(pairs)), list(pairs.values()))
check("EXISTS over slots", lambda: rc.exists(*pairs, "missing"), 30)
check("TOUCH over slots", lambda: rc.touch(*list(pairs)[:10]), 10)
check("DEL over slots", lambda: rc.delete(*list(pairs)[:20]), 20)
check("UNLINK over slots", lambda: rc.unlink(*list(pairs)[20:], "missing"), 10)
check("DBSIZE after DEL", lambda: rc.dbsize(), 100)

# A movablekeys command: keys read from its key specs (keynum).
rc.rpush("{l}a", "x")
check("LMPOP", lambda: rc.lmpop(2, "{l}a", "{l}b", direction="LEFT"), ["{l}a", ["x"]])

# request_policy:all_shards, response_policy:all_succeeded
check("PING", lambda: rc.ping(), True)
check("FLUSHALL", lambda: rc.flushall(), True)
check("DBSIZE after FLUSHALL", lambda: rc.dbsize(), 0)
check("KEYS after FLUSHALL", lambda: rc.keys(), [])
check("RANDOMKEY of an empty cluster", lambda: rc.randomkey(), None)

if failures:
    print("\n".join(failures))
    sys.exit(1)
print("redis-py", __import__("redis").__version__, "RedisCluster: all checks passed")
