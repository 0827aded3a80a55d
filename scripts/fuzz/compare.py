"""Whether two replies to one command agree: exact by default; replies that are inherently
different (server facts, random picks, TTLs that tick, unordered collections, SCAN cursors)
are normalised or checked for what they must have in common. The known-differences list is
applied here too."""

import re

from resp import render, is_error

# Replies that are facts about the server, not the data: only their type is compared.
SHAPE = {"INFO", "TIME", "LASTSAVE", "HELLO", "OBJECT", "CONFIG|GET", "COMMAND|COUNT", "COMMAND|INFO",
         "COMMAND|DOCS", "COMMAND|LIST", "CLIENT|ID", "CLIENT|LIST", "CLIENT|INFO", "CLIENT|GETREDIR",
         "CLUSTER|INFO", "CLUSTER|MYID", "CLUSTER|SLOTS", "CLUSTER|NODES", "CLUSTER|SHARDS",
         "CLUSTER|MYSHARDID", "ROLE", "MEMORY", "LATENCY", "SLOWLOG", "DEBUG"}
# Replies whose order is unspecified: compared sorted (pairs kept together where they pair).
UNORDERED = {"SMEMBERS", "SINTER", "SUNION", "SDIFF", "KEYS", "HKEYS", "HVALS",
             "PUBSUB|CHANNELS", "PUBSUB|SHARDCHANNELS", "CLUSTER|GETKEYSINSLOT"}
UNORDERED_PAIRS = {"HGETALL"}
# Times that tick between the two servers' answers: equal within a tolerance.
TOLERANCE = {"TTL": 2, "EXPIRETIME": 2, "PTTL": 2500, "PEXPIRETIME": 2500}
# Random picks: checked for shape, count and membership, not equality.
RANDOM = {"SRANDMEMBER", "HRANDFIELD", "ZRANDMEMBER", "RANDOMKEY", "SPOP"}
CONTAINERS = {"CLIENT", "CLUSTER", "COMMAND", "CONFIG", "OBJECT", "PUBSUB", "MEMORY", "DEBUG", "XINFO", "FUNCTION"}
SCANS = {"SCAN": 0, "HSCAN": 1, "SSCAN": 1, "ZSCAN": 1}


def name_of(cmd):
    """NAME or NAME|SUB for a container command."""
    name = _s(cmd[0]).upper()
    if name in CONTAINERS and len(cmd) > 1:
        return name + "|" + _s(cmd[1]).upper()
    return name


def _s(x):
    return x.decode("latin-1") if isinstance(x, bytes) else str(x)


def shape(r):
    """A reply reduced to its type (errors kept whole)."""
    if not isinstance(r, tuple) or is_error(r):
        return r
    return ("shape", r[0] + ("nil" if r[1] is None else ""))


def _key(v):
    return repr(v)


_FLOAT = re.compile(rb"-?(\d+\.\d*|\d*\.\d+|\d+)(e[-+]?\d+)?")


def canon(r):
    """RESP3 sets and maps compared without their order; a double in a bulk string by its
    value (Redis 7.0 prints %.17g, "0.10000000000000001", where 7.2 and slotraft print the
    shortest string that reads back the same, "0.1"), and so a RESP3 double; everything else
    as is."""
    if not isinstance(r, tuple):
        return r
    t, v = r
    if t == "$" and v and len(v) < 40 and (b"." in v or b"e" in v) and _FLOAT.fullmatch(v):
        return ("double", float(v))
    if t == "," and _FLOAT.fullmatch(v):
        return ("double", float(v))   # RESP3 doubles: the same two ways of printing them
    if t in "*>" and v is not None:
        return (t, [canon(x) for x in v])
    if t == "~":
        return (t, sorted((canon(x) for x in v), key=_key))
    if t in "%|":
        return (t, sorted(((canon(k), canon(x)) for k, x in v), key=_key))
    return r


def flat_pairs(r):
    """A flat RESP2 array of k, v, k, v ... or a RESP3 map or array of pairs, as pairs."""
    t, v = r
    if t in "%|":
        return [(k, x) for k, x in v]
    if v and all(isinstance(x, tuple) and x[0] == "*" and x[1] and len(x[1]) == 2 for x in v):
        return [tuple(x[1]) for x in v]
    return [(v[i], v[i + 1] if i + 1 < len(v) else None) for i in range(0, len(v), 2)]


def normalise(cmd, r):
    name = name_of(cmd)
    if is_error(r) or not isinstance(r, tuple):
        return r
    if name in SHAPE or name.split("|")[0] in SHAPE:
        return shape(r)
    if name in UNORDERED and r[0] in "*~" and r[1] is not None:
        return ("unordered", sorted((canon(x) for x in r[1]), key=_key))
    if name in UNORDERED_PAIRS and r[0] in "*%" and r[1] is not None:
        return ("unordered", sorted((tuple(canon(x) for x in p) for p in flat_pairs(r)), key=_key))
    if name in ("SORT", "SORT_RO") and _sort_unordered(cmd) and r[0] == "*" and r[1] is not None:
        return ("unordered", sorted(r[1], key=_key))
    return canon(r)


def _sort_unordered(cmd):
    """SORT ... BY <no *>: the elements in the collection's own order, which is unspecified
    for a set."""
    up = [_s(a).upper() for a in cmd]
    for i, a in enumerate(up[:-1]):
        if a == "BY" and "*" not in up[i + 1]:
            return True
    return False


def agree(cmd, rs, rr):
    """Whether slotraft's reply `rs` agrees with redis's `rr` (without looking at the data)."""
    name = name_of(cmd)
    if name in TOLERANCE and rs and rr and rs[0] == ":" and rr[0] == ":":
        a, b = rs[1], rr[1]
        return a == b or (a >= 0 and b >= 0 and abs(a - b) <= TOLERANCE[name])
    if name == "EXEC" and isinstance(rs, tuple) and isinstance(rr, tuple) and rs[0] == rr[0] == "*" \
            and rs[1] is not None and rr[1] is not None and len(rs[1]) == len(rr[1]) and hasattr(cmd, "queued"):
        return all(_agree_queued(c, a, b) for c, a, b in zip(cmd.queued, rs[1], rr[1]))
    if name in RANDOM:
        return random_shape_agrees(cmd, rs, rr)
    return normalise(cmd, rs) == normalise(cmd, rr)


def _agree_queued(cmd, rs, rr):
    """A reply inside EXEC's: as `agree`, but a SCAN-family step (whose cursor and batch are
    each server's own, and which cannot be followed to its end there) by its shape."""
    if name_of(cmd) in SCANS:
        return shape(rs) == shape(rr)
    return agree(cmd, rs, rr)


def random_shape_agrees(cmd, rs, rr):
    """Random picks: the same kind of reply with as many elements (which elements is checked
    against the data separately)."""
    if is_error(rs) or is_error(rr) or not isinstance(rs, tuple) or not isinstance(rr, tuple):
        return rs == rr
    if rs[0] != rr[0] or (rs[1] is None) != (rr[1] is None):
        return False
    if rs[0] in "*~%" and rs[1] is not None:
        return len(rs[1]) == len(rr[1])
    return True


class Cmd(list):
    """A command (its arguments), with the commands an EXEC ran attached as `queued`."""


def signature(cmd, rs, rr):
    """What makes two differences the same finding: the command and each side's kind of reply."""
    def sig(r):
        if not isinstance(r, tuple):
            return str(r)
        if is_error(r):
            # Numbers and quoted names (a command's, an argument's) do not make another kind.
            words = re.sub(rb"\d+", b"N", re.sub(rb"'[^']*'", b"'..'", r[1])).split()[:6]
            return "-" + b" ".join(words).decode("latin-1")
        return r[0] + ("nil" if r[1] is None else "")
    return "%s: %s vs %s" % (name_of(cmd), sig(rs), sig(rr))


class Known:
    """The known-differences list: `COMMAND | slotraft reply regex | redis reply regex | reason`
    per line (the command as NAME or NAME|SUB, * for any; the regexes searched in each reply as
    printed, redis-cli style)."""

    def __init__(self, path):
        self.entries = []
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                parts = [p.strip() for p in line.split(" | ")]
                if len(parts) != 4 or not parts[3]:
                    raise SystemExit("fuzz: %s:%d: want 'COMMAND | slotraft-regex | redis-regex | reason'" % (path, n))
                try:
                    self.entries.append((parts[0].upper(), re.compile(parts[1]), re.compile(parts[2]), parts[3], n))
                except re.error as e:
                    raise SystemExit("fuzz: %s:%d: %s" % (path, n, e))
        self.used = {}

    def match(self, cmd, rs, rr, inside_exec=False):
        """The matching entry's reason, or None. `inside_exec`: the replies of a command EXEC
        ran, which entries named EXEC/NAME match too (a difference of NAME only there)."""
        name = name_of(cmd)
        names = {name, name.split("|")[0]}
        if inside_exec:
            names |= {"EXEC/" + n for n in names}
        a, b = render(rs, 100000), render(rr, 100000)
        for cname, sre, rre, reason, n in self.entries:
            if cname != "*" and cname not in names:
                continue
            if sre.search(a) and rre.search(b):
                self.used[n] = self.used.get(n, 0) + 1
                return reason
        return None
