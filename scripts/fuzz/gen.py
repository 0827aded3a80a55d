"""Seeded generation of command sequences: a hand-written argument grammar per command family
(valid, edge-case and invalid arguments, absurd option combinations), a fallback from the
server's own COMMAND table (arity) for any command without one, and MULTI blocks.

Keys share one hash tag ({t}) and come from a small set so that commands collide; a few are
outside the tag (CROSSSLOT) or empty."""

import random

KEYS = ["{t}a", "{t}b", "{t}c", "{t}d", "{t}e"]
EDGE_INTS = [0, -1, 1, 2, 3, 2**31 - 1, -2**31, 2**31, 2**32, 2**32 - 1, 2**63 - 1, -2**63,
             2**63, -2**63 - 1, 2**64, 10**20, -10**20, 2**63 - 2, -2**63 + 1, 2**53 + 1]
BAD_INTS = ["", "abc", "1.5", " 1", "1 ", "+1", "-0", "01", "0x1", "1e3", "\x00", "-", "1\x00",
            "99999999999999999999999999"]
FLOATS = ["0", "1", "-1", "1.5", "-2.5", "inf", "-inf", "+inf", "nan", "1e308", "1e309", "-1e309",
          "0.1", "1e-320", "abc", "", "1.0e2", " 1", "1.", ".5", "0x10", "1e", "-0", "+5",
          "17976931348623157e292", "4.5e15", "3.0000000000000001", "inf1", "INF", "-nan"]
MEMBERS = ["a", "b", "c", "d", "e", "1", "2", "10", ""]
PATTERNS = ["*", "{t}*", "{t}?", "{t}[a-c]", "\\", "[", "[^a]*", "*a*", "{t}[a-", "a\\", "[]", "*[\\"]
LEX = ["-", "+", "[a", "(a", "[c", "(e", "[", "(", "a", "", "[\xff", "-1", "+inf"]
SCORES = ["-inf", "+inf", "inf", "(1", "1", "0", "(0", "(", "abc", "nan", "-1", "(-inf", "10",
          "2.5", "(2.5", "1e309", "[1"]
TYPES = ["string", "list", "set", "zset", "hash", "stream", "none", "STRING", "foo", ""]


class Gen:
    """Argument generators over one random generator."""

    def __init__(self, rnd):
        self.r = rnd

    def chance(self, p):
        return self.r.random() < p

    def pick(self, xs):
        return self.r.choice(xs)

    def key(self):
        x = self.r.random()
        if x < 0.92:
            return self.pick(KEYS)
        return self.pick(["{t}", "other", "", "{t}" + "k" * 300])

    def keys(self, lo=1, hi=4):
        return [self.key() for _ in range(self.r.randint(lo, hi))]

    def int(self, lo=-3, hi=10):
        x = self.r.random()
        if x < 0.6:
            return str(self.r.randint(lo, hi))
        if x < 0.85:
            return str(self.pick(EDGE_INTS))
        return self.pick(BAD_INTS)

    def count(self):
        """A count: mostly small, sometimes huge or negative or not a number."""
        x = self.r.random()
        if x < 0.55:
            return str(self.r.randint(0, 6))
        if x < 0.7:
            return str(self.r.randint(-6, -1))
        if x < 0.9:
            return str(self.pick(EDGE_INTS))
        return self.pick(BAD_INTS)

    def float(self):
        if self.chance(0.5):
            return str(self.r.randint(-5, 10)) + self.pick(["", ".5", ".25"])
        return self.pick(FLOATS)

    def value(self):
        x = self.r.random()
        if x < 0.5:
            return self.pick(MEMBERS + ["hello", "world", "-5", "3.5", "100"])
        if x < 0.65:
            return str(self.pick(EDGE_INTS))
        if x < 0.8:
            return bytes(self.r.randrange(256) for _ in range(self.r.randint(0, 12)))
        if x < 0.9:
            return self.pick(["x", "ab", "\x00", "\r\n", "\xff"]) * self.r.randint(10, 2000)
        return self.pick(FLOATS)

    def member(self):
        return self.pick(MEMBERS) if self.chance(0.9) else self.value()

    def members(self, lo=1, hi=5):
        return [self.member() for _ in range(self.r.randint(lo, hi))]

    def timeout(self):
        # Never 0 (forever) nor long: a blocking command outside MULTI must come back soon.
        # Nor what Redis reads as a long or negative wait through its float parsing's quirks
        # (hex "0x1" is 1 s; "1e400" and overflowing values become negative): the comparison
        # would only show those.
        return self.pick(["0.01", "0.02", "0.05", "-1", "abc", "-0.01", "inf", "0.01", "0.03", ""])

    def expire_secs(self):
        """A relative expiry that neither side can see elapse within a case: long, zero,
        negative, overflowing or not a number (TTLs are compared with a tolerance)."""
        x = self.r.random()
        if x < 0.5:
            return str(self.r.randint(1000, 100000))
        if x < 0.6:
            return self.pick(["0", "-1", "-100"])
        if x < 0.85:
            return str(self.pick([2**31, 2**63 - 1, -2**63, 2**62, 2**53, 10**15, 9223372036854775,
                                  9223372036854776, 2**64, 2**32 + 1000]))
        return self.pick(BAD_INTS)

    def expire_abs(self):
        """An absolute time (s) long past or far off."""
        return self.pick(["1", "100", "0", "-1", "4102444800", "4102444800000", str(2**63 - 1),
                          str(2**62), "abc", "9223372036854775", "1700000000"])

    def options(self, vocab, most=3):
        """Options from `vocab` (each a list of tokens or a function giving them), in random
        order, sometimes repeated: the absurd combinations included."""
        out = []
        for _ in range(self.r.randint(0, most)):
            o = self.pick(vocab)
            out += o() if callable(o) else list(o)
        return out

    def numkeys(self, keys):
        """numkeys for `keys`: right mostly, else off by one, zero, negative or huge."""
        if self.chance(0.8):
            return [str(len(keys))] + keys
        return [self.pick(["0", "-1", str(len(keys) + 1), str(max(len(keys) - 1, 0)), "2147483648", "abc"])] + keys


def _set_opts(g):
    return g.options([
        ["EX", ""], ["PX", ""], ["NX"], ["XX"], ["GET"], ["KEEPTTL"], ["EXAT", ""], ["PXAT", ""],
    ], 3)


def _fill_expiry(g, args):
    out = []
    for a in args:
        if a == "":
            t = g.expire_secs() if g.chance(0.7) else g.expire_abs()
            # A TTL of a few milliseconds may run out between two commands on one server and
            # not on the other, a difference of timing, not of behaviour: PX gets seconds' worth.
            if out and out[-1] == "PX" and t.isdigit() and not t.startswith("0") and int(t) < 1000:
                t = str(int(t) * 1000)
            out.append(t)
        else:
            out.append(a)
    return out


def _bitrange(g):
    out = []
    if g.chance(0.7):
        out += [g.int(-5, 10), g.int(-5, 10)]
        if g.chance(0.4):
            out.append(g.pick(["BYTE", "BIT", "byte", "bits", "BYTE"]))
    elif g.chance(0.3):
        out.append(g.int())
    return out


def _zadd(g):
    flags = g.options([["NX"], ["XX"], ["GT"], ["LT"], ["CH"], ["INCR"]], 3)
    pairs = []
    for _ in range(g.r.randint(1, 4)):
        pairs += [g.float(), g.member()]
    if g.chance(0.05):
        pairs.pop()
    return [g.key()] + flags + pairs


def _zrange_opts(g):
    return g.options([["BYSCORE"], ["BYLEX"], ["REV"], ["WITHSCORES"],
                      lambda: ["LIMIT", g.int(-2, 5), g.count()]], 3)


def _zrange_bounds(g, opts):
    if "BYSCORE" in opts:
        return [g.pick(SCORES), g.pick(SCORES)]
    if "BYLEX" in opts:
        return [g.pick(LEX), g.pick(LEX)]
    return [g.int(-6, 6), g.int(-6, 6)]


def _zrange(g):
    opts = _zrange_opts(g)
    return [g.key()] + _zrange_bounds(g, opts) + opts


def _zrangestore(g):
    opts = [o for o in _zrange_opts(g) if o != "WITHSCORES" or g.chance(0.2)]
    return [g.key(), g.key()] + _zrange_bounds(g, opts) + opts


def _zsetop(g, store, with_weights=True):
    ks = g.keys(1, 3)
    args = ([g.key()] if store else []) + g.numkeys(ks)
    vocab = [lambda: ["AGGREGATE", g.pick(["SUM", "MIN", "MAX", "sum", "AVG"])]]
    if with_weights:
        vocab.append(lambda: ["WEIGHTS"] + [g.float() for _ in range(len(ks) if g.chance(0.8) else len(ks) + 1)])
    if not store:
        vocab.append(["WITHSCORES"])
    return args + g.options(vocab, 2)


def _scan_opts(g, with_type=False):
    vocab = [lambda: ["MATCH", g.pick(PATTERNS)], lambda: ["COUNT", g.pick(["1", "2", "10", "0", "-1", "abc", "1000"])]]
    if with_type:
        vocab.append(lambda: ["TYPE", g.pick(TYPES)])
    return g.options(vocab, 2)


def _cursor(g):
    return "0" if g.chance(0.85) else g.pick(["1", "-1", "abc", "18446744073709551615", "18446744073709551616", "5"])


def _sort(g):
    opts = g.options([
        lambda: ["BY", g.pick(["nosort", "{t}w_*", "{t}h_*->f", "*", "{t}a"])],
        lambda: ["LIMIT", g.int(-2, 4), g.count()],
        lambda: ["GET", g.pick(["#", "{t}w_*", "{t}h_*->f", "*"])],
        ["ASC"], ["DESC"], ["ALPHA"],
    ], 3)
    return [g.key()] + opts


def _lpos(g):
    return [g.key(), g.member()] + g.options([
        lambda: ["RANK", g.int(-3, 3)], lambda: ["COUNT", g.count()], lambda: ["MAXLEN", g.count()]], 3)


def _dir(g):
    return g.pick(["LEFT", "RIGHT", "left", "UP"]) if g.chance(0.1) else g.pick(["LEFT", "RIGHT"])


def _minmax(g):
    return g.pick(["MIN", "MAX", "min", "MID"]) if g.chance(0.1) else g.pick(["MIN", "MAX"])


def _count_opt(g):
    return ["COUNT", g.count()] if g.chance(0.5) else []


def _expire(g, absolute):
    t = g.expire_abs() if absolute else g.expire_secs()
    if absolute is False and g.chance(0.3):
        t = str(int(t) * 1000) if t.lstrip("-").isdigit() and abs(int(t)) < 2**40 else t
    return [g.key(), t] + g.options([["NX"], ["XX"], ["GT"], ["LT"]], 2)


def _hello(g):
    args = []
    if g.chance(0.8):
        args.append(g.pick(["2", "3", "3", "2", "1", "4", "abc", "-1"]))
        args += g.options([lambda: ["SETNAME", g.pick(["fuzz", "a b", ""])],
                           lambda: ["AUTH", "default", g.pick(["", "x"])]], 1)
    return args


def _client(g):
    sub = g.pick(["ID", "GETNAME", "SETNAME", "SETINFO", "INFO", "LIST", "REPLY", "NO-EVICT",
                  "NO-TOUCH", "GETREDIR", "KILL", "NOPE"])
    if sub == "SETNAME":
        return [sub, g.pick(["fuzz", "", "a b", "x\n", "ok-name"])]
    if sub == "SETINFO":
        return [sub, g.pick(["LIB-NAME", "LIB-VER", "lib-name", "other"]), g.pick(["x", "a b", "", "1.0"])]
    if sub == "REPLY":
        return [sub, g.pick(["ON", "OFF", "SKIP", "on", "maybe"])]
    if sub in ("NO-EVICT", "NO-TOUCH"):
        return [sub, g.pick(["on", "off", "ON", "maybe"])]
    if sub == "KILL":
        # Never the connection itself.
        return [sub, g.pick(["ID", "TYPE", "ADDR", "SKIPME", "LADDR", "USER"]), g.pick(["999999", "pubsub", "1.2.3.4:5", "nobody", "yes", "abc"])]
    if sub == "LIST":
        return [sub] + g.options([lambda: ["TYPE", g.pick(["normal", "pubsub", "master", "nope"])], lambda: ["ID", "999999"]], 1)
    return [sub]


def _command(g):
    sub = g.pick(["COUNT", "INFO", "DOCS", "LIST", "GETKEYS", "NOPE", "GETKEYSANDFLAGS"])
    if sub in ("INFO", "DOCS"):
        return [sub] + [g.pick(["get", "set", "nope", "", "zadd", "client|id", "config|get"]) for _ in range(g.r.randint(0, 2))]
    if sub == "GETKEYS":
        return [sub] + g.pick([["get", g.key()], ["set", "{t}a", "v"], ["mset", "{t}a", "1", "{t}b"], ["nope"], [],
                               ["zunionstore", "{t}d", "2", "{t}a", "{t}b"], ["eval", "x", "0"], ["get"]])
    if sub == "LIST":
        return [sub] + g.options([lambda: ["FILTERBY", g.pick(["MODULE", "ACLCAT", "PATTERN"]), g.pick(["x", "read", "g*"])]], 1)
    return [sub]


def _config(g):
    sub = g.pick(["GET", "SET", "RESETSTAT", "NOPE"])
    if sub == "GET":
        return [sub] + [g.pick(["timeout", "maxclients", "*max*", "nope", "proto-max-bulk-len", "TIMEOUT"]) for _ in range(g.r.randint(0, 2))]
    if sub == "SET":
        return [sub, g.pick(["timeout", "proto-max-bulk-len", "nope", "maxclients", "client-query-buffer-limit"]),
                g.pick(["0", "-1", "abc", "1000000", "1mb", "99999999999999999999"])]
    return [sub]


def _cluster(g):
    sub = g.pick(["KEYSLOT", "COUNTKEYSINSLOT", "GETKEYSINSLOT", "INFO", "MYID", "SLOTS", "NODES",
                  "SHARDS", "MYSHARDID", "NOPE"])
    if sub == "KEYSLOT":
        return [sub, g.key() if g.chance(0.7) else g.value()]
    if sub == "COUNTKEYSINSLOT":
        return [sub, g.pick(["0", "16383", "16384", "-1", "abc", "11802"])]
    if sub == "GETKEYSINSLOT":
        return [sub, g.pick(["0", "16383", "16384", "-1", "abc", "11802"]), g.count()]
    return [sub]


def _pubsub(g):
    sub = g.pick(["CHANNELS", "NUMSUB", "NUMPAT", "SHARDCHANNELS", "SHARDNUMSUB", "NOPE"])
    if sub in ("CHANNELS", "SHARDCHANNELS"):
        return [sub] + ([g.pick(PATTERNS)] if g.chance(0.5) else [])
    if sub in ("NUMSUB", "SHARDNUMSUB"):
        return [sub] + [g.pick(["ch1", "ch2", "{t}ch"]) for _ in range(g.r.randint(0, 2))]
    return [sub]


def _channels(g):
    return [g.pick(["ch1", "ch2", "{t}ch", "c*"]) for _ in range(g.r.randint(1, 3))]


def _object(g):
    sub = g.pick(["ENCODING", "FREQ", "IDLETIME", "REFCOUNT", "HELP", "NOPE"])
    return [sub] + ([g.key()] if sub != "HELP" or g.chance(0.2) else [])


GRAMMAR = {
    # strings
    "GET": lambda g: [g.key()],
    "SET": lambda g: [g.key(), g.value()] + _fill_expiry(g, _set_opts(g)),
    "MSET": lambda g: sum(([g.key(), g.value()] for _ in range(g.r.randint(1, 3))), []) + ([g.key()] if g.chance(0.05) else []),
    "MSETNX": lambda g: sum(([g.key(), g.value()] for _ in range(g.r.randint(1, 3))), []) + ([g.key()] if g.chance(0.05) else []),
    "MGET": lambda g: g.keys(),
    "INCR": lambda g: [g.key()],
    "DECR": lambda g: [g.key()],
    "INCRBY": lambda g: [g.key(), g.int()],
    "DECRBY": lambda g: [g.key(), g.int()],
    "INCRBYFLOAT": lambda g: [g.key(), g.float()],
    "APPEND": lambda g: [g.key(), g.value()],
    "STRLEN": lambda g: [g.key()],
    "GETSET": lambda g: [g.key(), g.value()],
    "GETDEL": lambda g: [g.key()],
    "GETEX": lambda g: [g.key()] + _fill_expiry(g, g.options([["EX", ""], ["PX", ""], ["EXAT", ""], ["PXAT", ""], ["PERSIST"]], 2)),
    "SETNX": lambda g: [g.key(), g.value()],
    "SETEX": lambda g: [g.key(), g.expire_secs(), g.value()],
    "PSETEX": lambda g: [g.key(), g.expire_secs(), g.value()],
    "GETRANGE": lambda g: [g.key(), g.int(-6, 6), g.int(-6, 6)],
    "SUBSTR": lambda g: [g.key(), g.int(-6, 6), g.int(-6, 6)],
    "SETRANGE": lambda g: [g.key(), g.pick([g.int(0, 20), "536870912", "-1", "536870911x", "abc", str(2**32)]), g.value()],
    "LCS": lambda g: [g.key(), g.key()] + g.options([["LEN"], ["IDX"], ["WITHMATCHLEN"], lambda: ["MINMATCHLEN", g.int(-1, 4)]], 3),
    "SETBIT": lambda g: [g.key(), g.pick([g.int(0, 100), str(2**32), "-1", "4294967296", "abc"]), g.pick(["0", "1", "2", "-1", "abc"])],
    "GETBIT": lambda g: [g.key(), g.pick([g.int(0, 100), str(2**32 - 1), str(2**32), "-1"])],
    "BITCOUNT": lambda g: [g.key()] + _bitrange(g),
    "BITPOS": lambda g: [g.key(), g.pick(["0", "1", "2", "-1"])] + _bitrange(g),
    # keys
    "DEL": lambda g: g.keys(),
    "UNLINK": lambda g: g.keys(),
    "EXISTS": lambda g: g.keys(),
    "TOUCH": lambda g: g.keys(),
    "TYPE": lambda g: [g.key()],
    "RENAME": lambda g: [g.key(), g.key()],
    "RENAMENX": lambda g: [g.key(), g.key()],
    "COPY": lambda g: [g.key(), g.key()] + g.options([["REPLACE"], lambda: ["DB", g.pick(["0", "1", "-1", "abc"])]], 2),
    "EXPIRE": lambda g: _expire(g, False),
    "PEXPIRE": lambda g: _expire(g, False),
    "EXPIREAT": lambda g: _expire(g, True),
    "PEXPIREAT": lambda g: _expire(g, True),
    "TTL": lambda g: [g.key()],
    "PTTL": lambda g: [g.key()],
    "EXPIRETIME": lambda g: [g.key()],
    "PEXPIRETIME": lambda g: [g.key()],
    "PERSIST": lambda g: [g.key()],
    "KEYS": lambda g: [g.pick(PATTERNS)],
    "SCAN": lambda g: [_cursor(g)] + _scan_opts(g, True),
    "RANDOMKEY": lambda g: [],
    "FLUSHDB": lambda g: g.options([["ASYNC"], ["SYNC"]], 1),
    "FLUSHALL": lambda g: g.options([["ASYNC"], ["SYNC"]], 1),
    "OBJECT": _object,
    "SORT": lambda g: _sort(g) + (["STORE", g.key()] if g.chance(0.2) else []),
    "SORT_RO": _sort,
    # hashes
    "HSET": lambda g: [g.key()] + sum(([g.member(), g.value()] for _ in range(g.r.randint(1, 3))), []) + ([g.member()] if g.chance(0.05) else []),
    "HMSET": lambda g: [g.key()] + sum(([g.member(), g.value()] for _ in range(g.r.randint(1, 3))), []),
    "HSETNX": lambda g: [g.key(), g.member(), g.value()],
    "HGET": lambda g: [g.key(), g.member()],
    "HMGET": lambda g: [g.key()] + g.members(),
    "HGETALL": lambda g: [g.key()],
    "HDEL": lambda g: [g.key()] + g.members(),
    "HLEN": lambda g: [g.key()],
    "HEXISTS": lambda g: [g.key(), g.member()],
    "HKEYS": lambda g: [g.key()],
    "HVALS": lambda g: [g.key()],
    "HINCRBY": lambda g: [g.key(), g.member(), g.int()],
    "HINCRBYFLOAT": lambda g: [g.key(), g.member(), g.float()],
    "HSTRLEN": lambda g: [g.key(), g.member()],
    "HRANDFIELD": lambda g: [g.key()] + ([g.count()] + (["WITHVALUES"] if g.chance(0.4) else []) if g.chance(0.7) else []),
    "HSCAN": lambda g: [g.key(), _cursor(g)] + _scan_opts(g),
    # lists
    "LPUSH": lambda g: [g.key()] + g.members(),
    "RPUSH": lambda g: [g.key()] + g.members(),
    "LPUSHX": lambda g: [g.key()] + g.members(),
    "RPUSHX": lambda g: [g.key()] + g.members(),
    "LPOP": lambda g: [g.key()] + ([g.count()] if g.chance(0.4) else []),
    "RPOP": lambda g: [g.key()] + ([g.count()] if g.chance(0.4) else []),
    "LRANGE": lambda g: [g.key(), g.int(-6, 6), g.int(-6, 6)],
    "LLEN": lambda g: [g.key()],
    "LINDEX": lambda g: [g.key(), g.int(-6, 6)],
    "LSET": lambda g: [g.key(), g.int(-6, 6), g.member()],
    "LINSERT": lambda g: [g.key(), g.pick(["BEFORE", "AFTER", "after", "MIDDLE"]), g.member(), g.member()],
    "LREM": lambda g: [g.key(), g.int(-3, 3), g.member()],
    "LTRIM": lambda g: [g.key(), g.int(-6, 6), g.int(-6, 6)],
    "LPOS": _lpos,
    "LMOVE": lambda g: [g.key(), g.key(), _dir(g), _dir(g)],
    "RPOPLPUSH": lambda g: [g.key(), g.key()],
    "LMPOP": lambda g: g.numkeys(g.keys(1, 3)) + [_dir(g)] + _count_opt(g),
    "BLPOP": lambda g: g.keys(1, 3) + [g.timeout()],
    "BRPOP": lambda g: g.keys(1, 3) + [g.timeout()],
    "BLMOVE": lambda g: [g.key(), g.key(), _dir(g), _dir(g), g.timeout()],
    "BRPOPLPUSH": lambda g: [g.key(), g.key(), g.timeout()],
    "BLMPOP": lambda g: [g.timeout()] + g.numkeys(g.keys(1, 3)) + [_dir(g)] + _count_opt(g),
    # sets
    "SADD": lambda g: [g.key()] + g.members(),
    "SREM": lambda g: [g.key()] + g.members(),
    "SMEMBERS": lambda g: [g.key()],
    "SISMEMBER": lambda g: [g.key(), g.member()],
    "SMISMEMBER": lambda g: [g.key()] + g.members(),
    "SCARD": lambda g: [g.key()],
    "SPOP": lambda g: [g.key()] + ([g.count()] if g.chance(0.6) else []),
    "SRANDMEMBER": lambda g: [g.key()] + ([g.count()] if g.chance(0.7) else []),
    "SMOVE": lambda g: [g.key(), g.key(), g.member()],
    "SINTER": lambda g: g.keys(),
    "SUNION": lambda g: g.keys(),
    "SDIFF": lambda g: g.keys(),
    "SINTERSTORE": lambda g: [g.key()] + g.keys(),
    "SUNIONSTORE": lambda g: [g.key()] + g.keys(),
    "SDIFFSTORE": lambda g: [g.key()] + g.keys(),
    "SINTERCARD": lambda g: g.numkeys(g.keys(1, 3)) + g.options([lambda: ["LIMIT", g.count()]], 1),
    "SSCAN": lambda g: [g.key(), _cursor(g)] + _scan_opts(g),
    # sorted sets
    "ZADD": _zadd,
    "ZREM": lambda g: [g.key()] + g.members(),
    "ZSCORE": lambda g: [g.key(), g.member()],
    "ZMSCORE": lambda g: [g.key()] + g.members(),
    "ZINCRBY": lambda g: [g.key(), g.float(), g.member()],
    "ZCARD": lambda g: [g.key()],
    "ZCOUNT": lambda g: [g.key(), g.pick(SCORES), g.pick(SCORES)],
    "ZLEXCOUNT": lambda g: [g.key(), g.pick(LEX), g.pick(LEX)],
    "ZRANGE": _zrange,
    "ZRANGESTORE": _zrangestore,
    "ZRANGEBYSCORE": lambda g: [g.key(), g.pick(SCORES), g.pick(SCORES)] + g.options([["WITHSCORES"], lambda: ["LIMIT", g.int(-2, 5), g.count()]], 2),
    "ZREVRANGEBYSCORE": lambda g: [g.key(), g.pick(SCORES), g.pick(SCORES)] + g.options([["WITHSCORES"], lambda: ["LIMIT", g.int(-2, 5), g.count()]], 2),
    "ZRANGEBYLEX": lambda g: [g.key(), g.pick(LEX), g.pick(LEX)] + g.options([lambda: ["LIMIT", g.int(-2, 5), g.count()]], 1),
    "ZREVRANGEBYLEX": lambda g: [g.key(), g.pick(LEX), g.pick(LEX)] + g.options([lambda: ["LIMIT", g.int(-2, 5), g.count()]], 1),
    "ZREVRANGE": lambda g: [g.key(), g.int(-6, 6), g.int(-6, 6)] + (["WITHSCORES"] if g.chance(0.4) else []),
    "ZRANK": lambda g: [g.key(), g.member()] + (["WITHSCORE"] if g.chance(0.1) else []),
    "ZREVRANK": lambda g: [g.key(), g.member()] + (["WITHSCORE"] if g.chance(0.1) else []),
    "ZREMRANGEBYRANK": lambda g: [g.key(), g.int(-6, 6), g.int(-6, 6)],
    "ZREMRANGEBYSCORE": lambda g: [g.key(), g.pick(SCORES), g.pick(SCORES)],
    "ZREMRANGEBYLEX": lambda g: [g.key(), g.pick(LEX), g.pick(LEX)],
    "ZPOPMIN": lambda g: [g.key()] + ([g.count()] if g.chance(0.5) else []),
    "ZPOPMAX": lambda g: [g.key()] + ([g.count()] if g.chance(0.5) else []),
    "ZMPOP": lambda g: g.numkeys(g.keys(1, 3)) + [_minmax(g)] + _count_opt(g),
    "ZRANDMEMBER": lambda g: [g.key()] + ([g.count()] + (["WITHSCORES"] if g.chance(0.4) else []) if g.chance(0.7) else []),
    "ZUNION": lambda g: _zsetop(g, False),
    "ZINTER": lambda g: _zsetop(g, False),
    "ZDIFF": lambda g: g.numkeys(g.keys(1, 3)) + (["WITHSCORES"] if g.chance(0.4) else []),
    "ZUNIONSTORE": lambda g: _zsetop(g, True),
    "ZINTERSTORE": lambda g: _zsetop(g, True),
    "ZDIFFSTORE": lambda g: [g.key()] + g.numkeys(g.keys(1, 3)),
    "ZINTERCARD": lambda g: g.numkeys(g.keys(1, 3)) + g.options([lambda: ["LIMIT", g.count()]], 1),
    "ZSCAN": lambda g: [g.key(), _cursor(g)] + _scan_opts(g),
    "BZPOPMIN": lambda g: g.keys(1, 3) + [g.timeout()],
    "BZPOPMAX": lambda g: g.keys(1, 3) + [g.timeout()],
    "BZMPOP": lambda g: [g.timeout()] + g.numkeys(g.keys(1, 3)) + [_minmax(g)] + _count_opt(g),
    # transactions (MULTI blocks are built by the sequence generator)
    "WATCH": lambda g: g.keys(1, 2),
    "UNWATCH": lambda g: [],
    "DISCARD": lambda g: [],
    "EXEC": lambda g: [],
    "MULTI": lambda g: [],
    # connection and server
    "PING": lambda g: [g.value()] if g.chance(0.3) else [],
    "ECHO": lambda g: [g.value()],
    "SELECT": lambda g: [g.pick(["0", "0", "1", "-1", "abc", "16", "00"])],
    "HELLO": _hello,
    "CLIENT": _client,
    "COMMAND": _command,
    "CONFIG": _config,
    "INFO": lambda g: [g.pick(["server", "keyspace", "nope", "all", "stats", "everything"]) for _ in range(g.r.randint(0, 2))],
    "DBSIZE": lambda g: [],
    "TIME": lambda g: [],
    "LASTSAVE": lambda g: [],
    "READONLY": lambda g: [],
    "READWRITE": lambda g: [],
    "ASKING": lambda g: [],
    "CLUSTER": _cluster,
    "RESET": lambda g: [],
    # pub/sub
    "PUBLISH": lambda g: [g.pick(["ch1", "ch2", "{t}ch"]), g.value()],
    "SPUBLISH": lambda g: [g.pick(["ch1", "{t}ch"]), g.value()],
    "PUBSUB": _pubsub,
    "SUBSCRIBE": _channels,
    "PSUBSCRIBE": _channels,
    "SSUBSCRIBE": lambda g: [g.pick(["{t}ch", "{t}x"]) for _ in range(g.r.randint(1, 2))],
    "UNSUBSCRIBE": lambda g: _channels(g) if g.chance(0.5) else [],
    "PUNSUBSCRIBE": lambda g: _channels(g) if g.chance(0.5) else [],
    "SUNSUBSCRIBE": lambda g: [g.pick(["{t}ch", "{t}x"])] if g.chance(0.5) else [],
}

# A command sent on a second connection (to each server): "@OTHER SET k v" in a reproduction.
OTHER = "@OTHER"

# Commands never generated: they end the connection or the server, or compare nothing.
NEVER = {"QUIT", "SHUTDOWN", "DEBUG", "MONITOR", "SYNC", "PSYNC", "FAILOVER", "REPLICAOF", "SLAVEOF"}

# Writes that put data in place, weighted up so that later commands find something.
FILLERS = ["RPUSH", "SADD", "ZADD", "HSET", "SET", "MSET", "LPUSH", "ZADD", "SADD", "HSET", "RPUSH"]

# Commands that change how a connection's later replies come (or whether they come), and that
# are rarer in a sequence because of it.
RARE = {"SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE",
        "HELLO", "RESET", "FLUSHALL", "FLUSHDB", "CLIENT", "CONFIG", "COMMAND", "SELECT", "READONLY",
        "READWRITE", "ASKING", "MULTI", "EXEC", "DISCARD", "INFO", "TIME", "LASTSAVE", "CLUSTER"}


# Commands the second connection (@OTHER) never sends: they would leave it in a mode (MULTI,
# subscribed, RESP3, no replies, READONLY ...), block it, or empty both servers under the case.
NOT_OTHER = RARE | {"WATCH", "UNWATCH", "BLPOP", "BRPOP", "BLMOVE", "BRPOPLPUSH", "BLMPOP", "BZPOPMIN",
                    "BZPOPMAX", "BZMPOP", "WAIT", "RESET", "PUBLISH", "SPUBLISH"}


class Sequences:
    """Command sequences, one per case: case i of a seed is always the same sequence."""

    def __init__(self, seed, commands):
        """`commands`: the upper-case command names the server lists (COMMAND LIST)."""
        self.seed = seed
        names = sorted(c for c in commands if "|" not in c and c not in NEVER)
        self.names = names
        self.unknown_grammar = [n for n in names if n not in GRAMMAR]
        self.arity = {}
        common = [n for n in names if n not in RARE]
        rare = [n for n in names if n in RARE]
        self.weighted = common * 6 + rare + FILLERS * 4

    def set_arity(self, arity):
        self.arity = arity

    def fallback(self, g, name):
        """Arguments for a command with no grammar, from its arity."""
        a = self.arity.get(name, -1)
        n = a - 1 if a > 0 else g.r.randint(-a - 1, -a + 2)
        if g.chance(0.1):
            n = max(0, n + g.pick([-1, 1]))
        return [g.key() if i == 0 or g.chance(0.3) else g.value() for i in range(n)]

    def big(self, g):
        """A collection of thousands of members at once (ascending scores: a sorted set's
        worst case for a tree without balance)."""
        n = g.r.randint(100, 3000)
        kind = g.pick(["ZADD", "RPUSH", "SADD", "HSET"])
        if kind == "ZADD":
            body = sum(([str(i), "m%d" % i] for i in range(n)), [])
        elif kind == "HSET":
            body = sum((["f%d" % i, str(i)] for i in range(n)), [])
        else:
            body = ["m%d" % i for i in range(n)]
        return [kind, g.key()] + body

    def command(self, g, name=None):
        if name is None and g.chance(0.01):
            return self.big(g)
        name = name or g.pick(self.weighted)
        f = GRAMMAR.get(name)
        args = f(g) if f else self.fallback(g, name)
        if g.chance(0.02):
            # Absurd: an argument more, from anywhere.
            args = args + [g.pick(["NX", "WITHSCORES", "COUNT", "LIMIT", "0", "", g.key()])]
        if g.chance(0.05):
            name = name.lower() if g.chance(0.5) else name.capitalize()
        return [name] + args

    def case(self, i, length):
        """Case `i`: `length` commands (MULTI blocks count their commands)."""
        g = Gen(random.Random("%d:%d" % (self.seed, i)))
        out = []
        if g.chance(0.25):
            out.append(["HELLO", "3"])
        while len(out) < length:
            if g.chance(0.06):
                block = [["MULTI"]] + [self.command(g) for _ in range(g.r.randint(0, 5))]
                block.append([g.pick(["EXEC", "EXEC", "EXEC", "DISCARD", "MULTI"])])
                if g.chance(0.3):
                    # WATCH, and maybe a write from another connection before EXEC.
                    if g.chance(0.6):
                        block.insert(g.r.randint(0, len(block) - 1), [OTHER] + self.command(g, g.pick(FILLERS + ["DEL", "EXPIRE", "INCR"])))
                    block.insert(0, ["WATCH"] + g.keys(1, 2))
                out += block
            elif g.chance(0.01):
                cmd = self.command(g)
                # The second connection stays a plain RESP2 one, answering each command at
                # once: a command that would change that (MULTI, SUBSCRIBE, HELLO, a blocking
                # pop, WATCH ...) goes to the case's own connection instead.
                out.append(cmd if cmd[0].upper() in NOT_OTHER else [OTHER] + cmd)
            else:
                out.append(self.command(g))
        return out
