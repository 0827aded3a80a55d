"""The differential phase: each case is a fresh connection to slotraft (one node) and to
redis-server after FLUSHALL, the case's commands sent to both one at a time, every reply
compared. A difference is shrunk (delta debugging on the commands before it, replayed on
fresh connections after FLUSHALL) and reported once per kind, with the seed and case."""

import time

from gen import OTHER
from compare import Cmd, agree, _agree_queued, name_of, shape, signature, RANDOM, SCANS, _s
from resp import Conn, Closed, Timeout, BadReply, encode, is_error, render, render_args

# Commands after which a connection's replies cannot be counted one per command.
MODE_CHANGERS = {"SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE"}
BLOCKING = {"BLPOP", "BRPOP", "BLMOVE", "BRPOPLPUSH", "BLMPOP", "BZPOPMIN", "BZPOPMAX", "BZMPOP"}
REPLY_TIMEOUT = 5.0


class Dropped:
    """What a side gave instead of a reply."""

    def __init__(self, what):
        self.what = what

    def __eq__(self, other):
        return isinstance(other, Dropped) and other.what == self.what

    def __repr__(self):
        return "(%s)" % self.what

    def __str__(self):
        return "(%s)" % self.what


class Side:
    """One server's end of a case: its session connection and what we know of its state."""

    def __init__(self, port):
        self.conn = Conn(port, timeout=REPLY_TIMEOUT)

    def close(self):
        self.conn.close()


class Session:
    """A case's two connections, replaying commands and comparing each reply."""

    def __init__(self, sport, rport, aux_s, aux_r):
        self.s, self.r = Side(sport), Side(rport)
        self.aux_s, self.aux_r = aux_s, aux_r
        self.in_multi = False
        self.queued = []
        self.uncertain = False  # reply count per command no longer one (pub/sub, CLIENT REPLY)
        self.popped = False      # an SPOP inside MULTI: resync sets after EXEC
        self.dead = False

    def close(self):
        self.s.close()
        self.r.close()

    def _read(self, side, timeout):
        try:
            return side.conn.read(timeout)
        except Timeout:
            return Dropped("timeout")
        except Closed as e:
            return Dropped("connection closed: %s" % e)
        except (BadReply, ValueError) as e:
            return Dropped("unparsable reply: %s" % e)

    def run(self, cmd):
        """Sends `cmd` to both; returns (slotraft's reply, redis's reply, a note or None):
        a note when the replies disagree in a way the data explains (random picks)."""
        if cmd and cmd[0] == OTHER:
            # From another connection (both servers' auxiliary ones, RESP2 and never in MULTI).
            inner = Cmd(cmd[1:])
            out = []
            for aux in (self.aux_s, self.aux_r):
                try:
                    out.append(aux.call(*inner))
                except (Closed, Timeout, BadReply) as e:
                    # Its reply may still come: closed, so that no later call reads it (the
                    # case ends here, and the next FLUSHALL opens another).
                    aux.close()
                    out.append(Dropped(repr(e)))
            return out[0], out[1], inner
        data = encode(cmd)
        name = name_of(cmd)
        base = name.split("|")[0]
        for side in (self.s, self.r):
            try:
                side.conn.send(data)
            except Closed:
                pass
        drain = self.uncertain or base in MODE_CHANGERS or name == "CLIENT|REPLY" or (base in ("PUBLISH", "SPUBLISH") and self.uncertain)
        if drain:
            # The first reply may take a while on a loaded machine (a window too short for it
            # compares a reply with none); the ones after it come at once if they come.
            window = 0.4 if base in BLOCKING else 0.15
            rr = []
            while True:
                x = self._read(self.r, window if rr else 1.0)
                if isinstance(x, Dropped):
                    break
                rr.append(x)
            rs = [self._read(self.s, REPLY_TIMEOUT) for _ in rr]
            extra = self._read(self.s, window)
            if not isinstance(extra, Dropped):
                rs.append(extra)
            if base in MODE_CHANGERS or name == "CLIENT|REPLY":
                self.uncertain = True
            if len(rs) == 1 and len(rr) == 1 and isinstance(rs[0], tuple):
                return rs[0], rr[0]
            rs = ("*", rs) if all(isinstance(x, tuple) for x in rs) else ("drained", [repr(x) for x in rs])
            rr = ("*", rr)
            return rs, rr
        rr = self._read(self.r, REPLY_TIMEOUT)
        rs = self._read(self.s, REPLY_TIMEOUT + (1.0 if isinstance(rr, Dropped) else 0))
        c = Cmd(cmd)
        if self.in_multi and rr == ("+", b"QUEUED"):
            self.queued.append(Cmd(cmd))
            if base == "SPOP":
                self.popped = True
        if base == "MULTI" and rr == ("+", b"OK"):
            self.in_multi, self.queued = True, []
        elif base in ("EXEC", "DISCARD") and self.in_multi:
            c.queued = self.queued
            self.in_multi = False
        elif base == "RESET" and rr == ("+", b"RESET"):
            self.in_multi, self.queued = False, []
        return rs, rr, c

    def sync_sets(self):
        """After SPOP (random on both sides), make redis's sets what slotraft's are: the same
        number of members went from each, so SREM and SADD on redis make them equal."""
        r = self.aux_r.call("KEYS", "*")
        if r[0] != "*":
            return
        for k in r[1] or []:
            if not isinstance(k, tuple) or not isinstance(k[1], bytes):
                continue
            k = k[1]
            if self.aux_r.call("TYPE", k) != ("+", b"set"):
                continue
            ms = self.aux_s.call("SMEMBERS", k)
            mr = self.aux_r.call("SMEMBERS", k)
            if ms[0] != "*" or mr[0] != "*":
                continue
            a = {x[1] for x in ms[1]}
            b = {x[1] for x in mr[1]}
            if b - a:
                self.aux_r.call("SREM", k, *sorted(b - a))
            if a - b:
                self.aux_r.call("SADD", k, *sorted(a - b))


def _members(aux, kind, key):
    """The collection a random pick must come from: {member: value or score or None}."""
    if kind == "SRANDMEMBER" or kind == "SPOP":
        r = aux.call("SMEMBERS", key)
        return {x[1]: None for x in r[1]} if r[0] == "*" and r[1] else {}
    if kind == "HRANDFIELD":
        r = aux.call("HGETALL", key)
        v = r[1] or []
        return {v[i][1]: v[i + 1][1] for i in range(0, len(v), 2)} if r[0] == "*" else {}
    r = aux.call("ZRANGE", key, "0", "-1", "WITHSCORES")
    v = r[1] or []
    return {v[i][1]: float(v[i + 1][1]) for i in range(0, len(v), 2)} if r[0] == "*" else {}


def check_random(cmd, rs, aux_r, before=None):
    """Whether slotraft's random pick `rs` is one the data allows; None if so, else why."""
    name = name_of(cmd)
    if is_error(rs) or rs[1] is None:
        return None
    if name == "RANDOMKEY":
        if aux_r.call("EXISTS", rs[1]) != (":", 1):
            return "RANDOMKEY answered %s, which does not exist" % render(rs)
        return None
    key = cmd[1]
    pool = before if before is not None else _members(aux_r, name, key)
    with_values = any(_s(a).upper() in ("WITHVALUES", "WITHSCORES") for a in cmd[3:])
    count = None
    if len(cmd) > 2:
        try:
            count = int(_s(cmd[2]))
        except ValueError:
            return None
    if rs[0] in "$=":
        return None if rs[1] in pool else "picked %s, not in the collection" % render(rs)
    items = rs[1]
    if with_values:
        from compare import flat_pairs
        pairs = flat_pairs(rs)
    else:
        pairs = [(x, None) for x in items]
    seen = set()
    for m, v in pairs:
        if not isinstance(m, tuple) or len(m) != 2 or m[0] not in "$=" or m[1] not in pool:
            return "picked %s, not in the collection" % render(m)
        if with_values and v is not None:
            want = pool[m[1]]
            got = v[1]
            if name == "ZRANDMEMBER":
                try:
                    got = float(got)
                except (TypeError, ValueError):
                    return "score %s is not a number" % render(v)
            if got != want:
                return "%s paired with %s, the data has %r" % (render(m), render(v), want)
        if count is not None and count > 0 and m[1] in seen:
            return "picked %s twice with a positive count" % render(m)
        seen.add(m[1])
    return None


def scan_all(aux, cmd, first):
    """The elements of a whole SCAN-family iteration started by `cmd` with cursor 0, whose
    first reply was `first`; None if it is not one."""
    name = name_of(cmd)
    at = SCANS[name]
    if _s(cmd[1 + at]) != "0" or first[0] != "*" or not first[1] or len(first[1]) != 2:
        return None
    items = []
    cursor, batch = first[1]
    items += batch[1] or []
    args = list(cmd)
    for _ in range(2000):
        if cursor[1] == b"0":
            break
        args[1 + at] = cursor[1]
        r = aux.call(*args)
        if r[0] != "*" or len(r[1]) != 2:
            return ("scan failed", r)
        cursor, batch = r[1]
        items += batch[1] or []
    else:
        return ("scan did not end",)
    novalues = any(_s(a).upper() == "NOVALUES" for a in cmd[3:])
    if name == "ZSCAN" or (name == "HSCAN" and not novalues):
        # Member and score, field and value; SCAN and SSCAN give names alone.
        pairs = [(items[i], items[i + 1] if i + 1 < len(items) else None) for i in range(0, len(items), 2)]
        return ("scan", sorted(set(pairs), key=repr))
    return ("scan", sorted(set(items), key=repr))


class Finding:
    def __init__(self, kind, sig, seed, case, seq, rs, rr, reason=None):
        self.kind, self.sig, self.seed, self.case = kind, sig, seed, case
        self.seq, self.rs, self.rr, self.reason = seq, rs, rr, reason
        self.count = 1
        self.shrunk = None

    def repro(self):
        seq = self.shrunk or self.seq
        return "\n".join(render_args(c) for c in seq)


class Differential:
    """Runs cases against one slotraft node and redis-server; collects findings."""

    def __init__(self, sequences, one, redis, known, log, case_len=40):
        self.seqs, self.one, self.redis, self.known, self.log = sequences, one, redis, known, log
        self.case_len = case_len
        self.commands = 0
        self.bytes = 0
        self.cases = 0
        self.findings = {}        # signature -> Finding (new differences, crashes, hangs)
        self.known_hits = {}      # reason -> count
        self.mirror = None        # a connection to the 3-node cluster, fed every case
        self.restarts = 0
        self.shrink_left = 1e9    # seconds all shrinking may take (main sets a share of the run)
        self._aux()

    def _aux(self):
        for c in (getattr(self, "aux_s", None), getattr(self, "aux_r", None)):
            if c is not None:
                c.close()
        self.aux_s = Conn(self.one.resp_ports[0], timeout=REPLY_TIMEOUT)
        self.aux_r = Conn(self.redis.port, timeout=REPLY_TIMEOUT)

    def flush(self):
        """Empties both servers. A second connection whose reply is not FLUSHALL's (a reply
        left over after a timeout) is replaced, so that no case reads another's replies."""
        if self.aux_s.closed or self.aux_r.closed:
            self._aux()
        for _ in range(2):
            replies = [c.call("FLUSHALL") for c in (self.aux_s, self.aux_r)]
            if all(r == ("+", b"OK") for r in replies):
                return
            self._aux()
        raise BadReply("FLUSHALL answered %r" % (replies,))

    def node_dead(self):
        return self.one.dead()

    def restart_one(self):
        """The one-node slotraft again, on empty data (its log may hold what killed it)."""
        import shutil
        self.one.stop()
        shutil.rmtree(self.one.config.replace(".toml", "-data"), ignore_errors=True)
        self.one.start()
        self.restarts += 1
        self._aux()

    def replay(self, seq, until=None):
        """Replays `seq` on fresh connections after FLUSHALL; returns (rs, rr, cmd) of its last
        command (or of the first that differs, with `until`)."""
        try:
            self.flush()
        except (Closed, Timeout, BadReply, OSError):
            self.restart_one()
            self.flush()
        sess = Session(self.one.resp_ports[0], self.redis.port, self.aux_s, self.aux_r)
        try:
            out = None
            for cmd in seq:
                res = sess.run(cmd)
                out = res
                if sess.popped and not sess.in_multi:
                    sess.popped = False
                if isinstance(res[0], Dropped):
                    break
            return out
        finally:
            sess.close()

    def run_case(self, i):
        seq = self.seqs.case(i, self.case_len)
        try:
            self.flush()
        except (Closed, Timeout, BadReply, OSError) as e:
            self._crash_check(None, i, [], "FLUSHALL before the case: %r" % e)
            return
        sess = Session(self.one.resp_ports[0], self.redis.port, self.aux_s, self.aux_r)
        done = []
        left_after_mode_change = 6
        try:
            for cmd in seq:
                if sess.uncertain:
                    # Each command now costs a wait for replies that may not come: a few more.
                    left_after_mode_change -= 1
                    if left_after_mode_change < 0:
                        break
                self.bytes += len(encode(cmd))
                self.commands += 1
                done.append(cmd)
                res = sess.run(cmd)
                self.diverged = False
                if self._judge(sess, i, done, res) or self.diverged:
                    break
        finally:
            sess.close()
        self.cases += 1
        if self.mirror is not None:
            self.mirror(seq)

    def _judge(self, sess, i, done, res):
        """Compares one command's replies; records a finding. True if the case must stop."""
        rs, rr = res[0], res[1]
        cmd = res[2] if len(res) > 2 else Cmd(done[-1])
        name = name_of(cmd)
        if isinstance(rs, Dropped) or (isinstance(rs, tuple) and rs[0] == "drained"):
            if isinstance(rr, Dropped) and rr == rs:
                return True  # both ended the same way
            self._crash_check(sess, i, done, rs)
            return True
        if isinstance(rr, Dropped):
            return True  # redis did not answer: nothing to compare with
        note = None
        if len(res) == 2 and (name in RANDOM or name in SCANS):
            return False  # replies of a connection in pub/sub or CLIENT REPLY mode: not compared
        if name in RANDOM and not sess.in_multi:
            if name == "SPOP":
                note = self._check_spop(sess, cmd, rs, rr)
            elif agree(cmd, rs, rr):
                note = check_random(cmd, rs, self.aux_r)
        elif name in SCANS and not sess.in_multi:
            a = scan_all(self.aux_s, cmd, rs)
            b = scan_all(self.aux_r, cmd, rr)
            if a is not None and b is not None:
                if a != b:
                    self._difference(i, done, a, b, cmd)
                return False
            if _s(cmd[1 + SCANS[name]]) != "0":
                # A cursor of the other server's making: where it leads is the server's own.
                rs, rr = shape(rs), shape(rr)
        if name == "EXEC" and sess.popped:
            sess.popped = False
            sess.sync_sets()
        if note is not None:
            self._record("wrong reply", "%s: bad random pick" % name, i, done, rs, rr, note)
            return True
        if not agree(cmd, rs, rr):
            self._difference(i, done, rs, rr, cmd)
        return False

    def _check_spop(self, sess, cmd, rs, rr):
        if not agree(cmd, rs, rr):
            return None  # reported as a difference
        if is_error(rs) or rs[1] is None:
            return None
        after = self.aux_s.call("SMEMBERS", cmd[1])
        after = {x[1] for x in (after[1] or [])} if after[0] == "*" else set()
        popped = [rs] if rs[0] in "$=" else list(rs[1])
        popped_r = [rr] if rr[0] in "$=" else list(rr[1])
        after_r = self.aux_r.call("SMEMBERS", cmd[1])
        after_r = {x[1] for x in (after_r[1] or [])} if after_r[0] == "*" else set()
        got = {x[1] for x in popped}
        if len(got) != len(popped):
            return "SPOP popped a member twice: %s" % render(rs)
        if got & after:
            return "SPOP popped %s but it is still in the set" % render(rs)
        if got | after != {x[1] for x in popped_r} | after_r:
            return "SPOP: popped and remaining members are not the set before"
        sess.sync_sets()
        return None

    def _difference(self, i, done, rs, rr, cmd):
        """Records a difference. The case ends there: after a write that went differently
        (known or not) the two servers no longer hold the same data, and whatever follows
        would only differ because of it."""
        self.diverged = True
        reason = self.known.match(cmd, rs, rr) or self._known_inside_exec(cmd, rs, rr)
        if reason:
            self.known_hits[reason] = self.known_hits.get(reason, 0) + 1
            return
        self._record("wrong reply", signature(cmd, rs, rr), i, done, rs, rr)

    def _known_inside_exec(self, cmd, rs, rr):
        """An EXEC whose replies differ at a queued command by a difference known for that
        command (SORT's patterns, hexadecimal floats ...): the known reason, or None."""
        if name_of(cmd) != "EXEC" or not hasattr(cmd, "queued") or not isinstance(rs, tuple) \
                or not isinstance(rr, tuple) or rs[0] != "*" or rr[0] != "*" or rs[1] is None or rr[1] is None \
                or len(rs[1]) != len(rr[1]) or len(rs[1]) != len(cmd.queued):
            return None
        for c, a, b in zip(cmd.queued, rs[1], rr[1]):
            if not _agree_queued(c, a, b):
                return self.known.match(c, a, b, inside_exec=True)
        return None

    def _record(self, kind, sig, i, done, rs, rr, reason=None):
        f = self.findings.get(sig)
        if f is not None:
            f.count += 1
            return
        f = Finding(kind, sig, self.seqs.seed, i, list(done), rs, rr, reason)
        self.findings[sig] = f
        self.log("NEW %s: %s (seed %d case %d)" % (kind, sig, self.seqs.seed, i))
        if kind == "wrong reply":
            self.shrink(f)

    def _crash_check(self, sess, i, done, what):
        """slotraft dropped a connection, hung or died where redis answered."""
        time.sleep(0.3)
        dead = self.node_dead()
        name = name_of(done[-1]) if done else "?"
        if dead:
            how = "; ".join("%s %s" % (p.name, st) for p, st in dead)
            tail = dead[0][0].log_tail(8)
            f = Finding("crash", "crash: %s (%s)" % (name, how), self.seqs.seed, i, list(done), what, None,
                        "log tail:\n" + tail)
            if f.sig not in self.findings:
                self.findings[f.sig] = f
                self.log("CRASH: %s after %s (seed %d case %d)" % (how, name, self.seqs.seed, i))
                self.restart_one()
                self.shrink_crash(f)
            else:
                self.findings[f.sig].count += 1
            if self.node_dead():
                self.restart_one()
            else:
                self._aux()
            return
        kind = "hang" if isinstance(what, Dropped) and what.what == "timeout" else "dropped connection"
        sig = "%s: %s" % (kind, name)
        if sig in self.findings:
            self.findings[sig].count += 1
            return
        f = Finding(kind, sig, self.seqs.seed, i, list(done), what, None)
        self.findings[sig] = f
        self.log("NEW %s: %s (seed %d case %d)" % (kind, sig, self.seqs.seed, i))

    def still_differs(self, sig, seq):
        res = self.replay(seq)
        if res is None:
            return False
        rs, rr = res[0], res[1]
        cmd = res[2] if len(res) > 2 else Cmd(seq[-1])
        if isinstance(rs, Dropped) or isinstance(rr, Dropped):
            return False
        if name_of(cmd) in SCANS or name_of(cmd) in RANDOM:
            return False
        return not agree(cmd, rs, rr) and signature(cmd, rs, rr) == sig

    def shrink(self, f, budget=8.0):
        """Delta debugging over the commands before the differing one."""
        if name_of(f.seq[-1]) in SCANS or name_of(f.seq[-1]) in RANDOM:
            return
        budget = min(budget, self.shrink_left)
        if budget < 1:
            return
        t0 = time.monotonic()
        deadline = t0 + budget
        test = lambda prefix: self.still_differs(f.sig, prefix + [f.seq[-1]])
        f.shrunk = ddmin(f.seq[:-1], test, deadline) + [f.seq[-1]]
        res = self.replay(f.shrunk)
        if res and not isinstance(res[0], Dropped):
            f.rs, f.rr = res[0], res[1]
        self.shrink_left -= time.monotonic() - t0

    def shrink_crash(self, f, budget=30.0):
        deadline = time.monotonic() + budget

        def crashes(prefix):
            try:
                self.replay(prefix + [f.seq[-1]])
            except (Closed, Timeout, BadReply, OSError):
                pass
            time.sleep(0.3)
            if self.node_dead():
                self.restart_one()
                return True
            return False
        if crashes([]):
            f.shrunk = [f.seq[-1]]
            return
        if not crashes(f.seq[:-1]):
            f.reason = (f.reason or "") + "\n(replayed on a fresh server, the sequence did not crash it again)"
            return
        f.shrunk = ddmin(f.seq[:-1], crashes, deadline) + [f.seq[-1]]


def ddmin(items, test, deadline):
    """The classic delta debugging minimisation of `items` under `test` (True: the failure is
    still there), within a deadline. `test(items)` is assumed True."""
    if test([]):
        return []
    n = 2
    while len(items) >= 1 and time.monotonic() < deadline:
        chunk = max(1, len(items) // n)
        reduced = False
        for start in range(0, len(items), chunk):
            if time.monotonic() >= deadline:
                break
            rest = items[:start] + items[start + chunk:]
            if test(rest):
                items = rest
                n = max(n - 1, 2)
                reduced = True
                break
        if not reduced:
            if chunk == 1:
                break
            n = min(len(items), n * 2)
    return items
