"""The protocol phases.

RESP: random and mutated request bytes (valid commands cut at random points, truncated,
oversized lengths, nested aggregates, RESP3 types where requests take none, inline commands
with odd quoting, overlong lines), sent in random pieces to the one-node slotraft and to
redis-server alike, then the write side shut; the replies each gave before closing are
compared (a difference is reported once per kind), and the node must stay up.

RPC: garbage at a node's node-to-node port: random bytes; append streams (`SRAS`, then
little-endian u32-length frames: Hello, requests) with bad versions, groups, lengths and
payloads; HTTP/2 with truncated or bogus frames; and valid-looking gRPC calls to each service
method with garbage protobuf, or protobuf envelopes holding garbage payloads. The node must stay
up; the cluster is checked afterwards (writable, replicas identical)."""

import random
import socket
import struct
import time

from differential import Finding
from gen import Gen, Sequences, KEYS
from resp import Conn, Closed, Timeout, BadReply, encode

# Commands the RESP phase builds requests from: harmless to the servers' settings and to the
# connections of the run.
SAFE = ["GET", "SET", "PING", "ECHO", "INCR", "RPUSH", "LRANGE", "HSET", "HGETALL", "SADD", "SMEMBERS",
        "ZADD", "ZRANGE", "DEL", "EXISTS", "MGET", "MSET", "APPEND", "GETRANGE", "LPOP", "MULTI", "EXEC",
        "TYPE", "STRLEN", "EXPIRE", "TTL", "HELLO", "BITCOUNT", "SETRANGE", "LPUSH", "ZSCORE"]


class Parsed:
    """Replies cut from a byte string, as far as they parse."""

    def __init__(self, data):
        self.replies = []
        self.rest = b""
        c = _BufConn(data)
        while c.pending():
            start = c.pos
            try:
                self.replies.append(c.read())
            except (Closed, BadReply, ValueError, IndexError):
                self.rest = bytes(c.buf[start:])
                break


class _BufConn(Conn):
    """A Conn over bytes already received."""

    def __init__(self, data):
        self.buf = bytearray(data)
        self.pos = 0
        self.timeout = 0
        self.closed = True

    def _fill(self, deadline):
        raise Closed("end of bytes")


def exchange(port, pieces, wait, shut=True):
    """Connects, sends `pieces` with a short pause between them, shuts the write side, and reads
    until the server closes or `wait` seconds pass in silence. Returns (bytes, closed, reset):
    a server that closes with request bytes unread resets the connection, and replies it sent
    may then be lost on the way."""
    s = socket.create_connection(("127.0.0.1", port), timeout=3)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    got = bytearray()
    closed = reset = False
    try:
        for i, p in enumerate(pieces):
            try:
                s.sendall(p)
            except OSError:
                closed = reset = True
                break
            if i + 1 < len(pieces):
                time.sleep(0.002)
        if shut and not closed:
            try:
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        deadline = time.monotonic() + wait
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            s.settimeout(left)
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except OSError:
                closed = reset = True
                break
            if not chunk:
                closed = True
                break
            got += chunk
            deadline = time.monotonic() + wait
    finally:
        s.close()
    return bytes(got), closed, reset


def split(r, data):
    """`data` in 1-5 pieces cut at random points."""
    cuts = sorted(r.randrange(len(data) + 1) for _ in range(r.randint(0, 4))) if data else []
    out, at = [], 0
    for c in cuts + [len(data)]:
        out.append(data[at:c])
        at = c
    return [p for p in out if p] or [b""]


class Protocol:
    def __init__(self, seed, one, three, redis, log):
        self.seed, self.one, self.three, self.redis, self.log = seed, one, three, redis, log
        self.findings = []
        self.sigs = {}
        self.resp_inputs = self.resp_bytes = self.rpc_inputs = self.rpc_bytes = 0
        self.seqs = Sequences(seed, SAFE)

    # ---- RESP ----

    def resp_input(self, i):
        r = random.Random("%d:resp:%d" % (self.seed, i))
        g = Gen(r)
        cmds = [self.seqs.command(g, r.choice(SAFE)) for _ in range(r.randint(1, 4))]
        parts = [encode(c) for c in cmds]
        for _ in range(r.randint(1, 3)):
            kind = r.randrange(12)
            at = r.randrange(len(parts) + 1)
            if kind == 0:
                parts.insert(at, r.choice([b"$2147483648\r\n", b"*1048577\r\n", b"$-2\r\n", b"*-1\r\n",
                                           b"*99999999999\r\n$1\r\na\r\n", b"$536870913\r\n", b"*2\r\n$99999999999999999999\r\n",
                                           b"*1\r\n$-1\r\n", b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1000000\r\nabc",
                                           b"*1\r\n$4\r\nPING\r\n\r\n", b"*0\r\n", b"*1\r\n$0\r\n\r\n", b"$4\r\nPING\r\n"]))
            elif kind == 1:
                depth = r.randint(1, 50)
                parts.insert(at, b"*1\r\n" * depth + b"$4\r\nPING\r\n")
            elif kind == 2:
                parts.insert(at, r.choice([b"%1\r\n+a\r\n+b\r\n", b"~2\r\n$1\r\na\r\n", b"_\r\n", b",1.5\r\n",
                                           b"#t\r\n", b">1\r\n$4\r\nPING\r\n", b"(12345\r\n", b"=5\r\ntxt:a\r\n",
                                           b"|1\r\n+a\r\n+b\r\n*1\r\n$4\r\nPING\r\n", b":1\r\n", b"+PING\r\n", b"-ERR\r\n"]))
            elif kind == 3:
                parts.insert(at, r.choice([b'SET "a b" c\r\n', b'SET "a\r\n', b"GET 'a\r\n", b'ECHO "\\x41\\x4"\r\n',
                                           b"PING\n", b"\r\n", b"\n\n\n", b"   \r\n", b'ECHO "a"b\r\n', b"ECHO 'a'\"b\"\r\n",
                                           b"set {t}a\x00b v\r\n", b'"\r\n', b"ECHO \"\\\"\r\n"]))
            elif kind == 4:
                # Not near the 64 KB limit: whether Redis refuses a line a little longer
                # depends on how its reads happen to split it.
                parts.insert(at, b"P" * r.choice([1000, 200000]) + r.choice([b"", b"\r\n"]))
            elif kind == 5:
                parts.insert(at, bytes(r.randrange(256) for _ in range(r.randint(1, 64))))
            elif kind == 6 and parts:
                j = r.randrange(len(parts))
                p = bytearray(parts[j])
                for _ in range(r.randint(1, 3)):
                    if p:
                        p[r.randrange(len(p))] = r.randrange(256)
                parts[j] = bytes(p)
            elif kind == 7 and parts:
                j = r.randrange(len(parts))
                parts[j] = parts[j][:r.randrange(len(parts[j]) + 1)]
            elif kind == 8:
                n = r.choice([2, 3, 10])
                parts.insert(at, b"*%d\r\n$3\r\nGET\r\n" % n)
            elif kind == 9:
                parts.insert(at, b"*2\r\n$4\r\nECHO\r\n$%d\r\n%s\r\n" % (r.choice([3, 5, 0]), b"abcd"))
            elif kind == 10:
                parts.insert(at, encode(["HELLO", r.choice(["3", "2"])]))
            else:
                parts.insert(at, b"*3\r\n$3\r\nSET\r\n$3\r\n{t}\r\n$" + str(r.randint(60000, 200000)).encode() + b"\r\n" + b"v" * r.randint(0, 60000))
        data = b"".join(parts)
        if r.random() < 0.3:
            data = data[:r.randrange(len(data) + 1)]
        return data, split(r, data)

    def resp_phase(self, end, count):
        i = 0
        last = time.monotonic()
        while (count is None and time.monotonic() < end) or (count is not None and i < count):
            data, pieces = self.resp_input(i)
            self._flush()
            self.resp_inputs += 1
            self.resp_bytes += len(data)
            try:
                a, closed_a, reset_a = exchange(self.redis.port, pieces, 0.3)
                b, closed_b, reset_b = exchange(self.one.resp_ports[0], pieces, 0.3)
                if closed_a and not closed_b:
                    # Give it a moment longer before calling it a hang.
                    b, closed_b, reset_b = exchange(self.one.resp_ports[0], pieces, 2.0)
            except OSError as e:
                b, closed_b, a, closed_a, reset_a, reset_b = b"", True, b"", True, True, True
                self._finding("dropped connection", "RESP: connect failed: %s" % e, i, data, repr(e), None)
            dead = self.one.dead()
            if dead:
                how = "; ".join("%s %s" % (p.name, st) for p, st in dead)
                self._finding("crash", "RESP input crashed the node (%s)" % how, i, data, dead[0][0].log_tail(8), None)
                self.one.stop()
                import shutil
                shutil.rmtree(self.one.config.replace(".toml", "-data"), ignore_errors=True)
                self.one.start()
            else:
                self._compare(i, data, a, closed_a, b, closed_b, reset_a or reset_b)
            i += 1
            if time.monotonic() - last >= 10:
                last = time.monotonic()
                self.log("protocol RESP: %d inputs, %d bytes; findings %d" % (self.resp_inputs, self.resp_bytes, len(self.findings)))
        self.log("protocol RESP: %d inputs, %d bytes" % (self.resp_inputs, self.resp_bytes))

    def _flush(self):
        for port in (self.redis.port, self.one.resp_ports[0]):
            try:
                c = Conn(port, timeout=5)
                c.call("FLUSHALL")
                c.close()
            except (OSError, Closed, Timeout, BadReply):
                pass

    def _compare(self, i, data, a, closed_a, b, closed_b, reset):
        pa, pb = Parsed(a), Parsed(b)
        ra = [_norm(x) for x in pa.replies]
        rb = [_norm(x) for x in pb.replies]
        if reset:
            # Replies sent before a reset may be lost: only those both sides got compare.
            n = min(len(ra), len(rb))
            ra, rb = ra[:n], rb[:n]
        if any(len(line) > 65536 for line in data.split(b"\n")):
            # Past the 64 KB inline limit, what Redis answers depends on how its reads split
            # the bytes (it looks for the limit only when a read ends without a newline).
            return
        if b"\x00" in data and (any(x[0] == "-" for x in pa.replies + pb.replies) or len(pa.replies) < len(pb.replies)):
            # Redis looks for an inline request's end with strchr, which stops at a NUL: it
            # waits for a newline it never finds where slotraft reads the line (and answers
            # the requests after it, errors or not).
            return
        if closed_a and not closed_b:
            self._finding("hang", "RESP: the connection stayed open after the client shut its side (redis closed it)",
                          i, data, _show(pb), _show(pa))
            return
        if len(ra) != len(rb) or not all(_same(x, y) for x, y in zip(ra, rb)):
            j = next((k for k in range(min(len(ra), len(rb))) if not _same(ra[k], rb[k])), min(len(ra), len(rb)))
            sa = _sig(ra[j]) if j < len(ra) else "(nothing more)"
            sb = _sig(rb[j]) if j < len(rb) else "(nothing more)"
            self._finding("wrong reply", "RESP: reply %s vs %s" % (sb, sa), i, data, _show(pb), _show(pa))

    def _finding(self, kind, sig, i, data, got, want):
        if sig in self.sigs:
            self.sigs[sig].count += 1
            return
        f = Finding(kind, sig, self.seed, i, ["bytes: " + _bytes(data)], got, want)
        f.case = i
        self.sigs[sig] = f
        self.findings.append(f)
        self.log("NEW %s: %s (seed %d, input %d)" % (kind, sig, self.seed, i))

    # ---- RPC ----

    def rpc_input(self, i):
        r = random.Random("%d:rpc:%d" % (self.seed, i))
        kind = r.randrange(10)
        if kind == 0:
            data = bytes(r.randrange(256) for _ in range(r.randint(1, 300)))
            if data[:4] in (b"SRAS", b"PRI "):
                data = b"X" + data
            return "garbage", data
        if kind <= 3:
            return "append stream", self.append_stream(r)
        return "http2", self.http2(r, kind)

    def append_stream(self, r):
        def frame(body):
            return struct.pack("<I", len(body)) + body
        out = b"SRAS"
        version = r.choice([1, 1, 1, 0, 2, 300, 2**32 - 1])
        group = r.choice([1, 2, 3, 0, 4, 99, 2**64 - 1])
        hello = _varint(version) + _varint(group)
        x = r.randrange(6)
        if x == 0:
            out += frame(hello)[:r.randrange(len(hello) + 4)]
        elif x == 1:
            out += struct.pack("<I", r.choice([2**32 - 1, 512 * 1024 * 1024 + 1, 512 * 1024 * 1024, 1 << 30, 100000]))
            out += bytes(r.randrange(256) for _ in range(r.randint(0, 50)))
        else:
            out += frame(hello + (bytes(r.randrange(256) for _ in range(r.randint(1, 4))) if x == 2 else b""))
            for _ in range(r.randint(0, 4)):
                # Requests of garbage: an AppendEntriesRequest they are not. A leading 0xff
                # keeps postcard from reading a small vote out of them.
                body = b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f" + bytes(r.randrange(256) for _ in range(r.randint(0, 80)))
                f = frame(body)
                if r.random() < 0.3:
                    f = f[:r.randrange(len(f) + 1)]
                out += f
        return out

    def http2(self, r, kind):
        preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
        frames = [h2frame(4, 0, 0, b"")]
        if kind == 4:
            # Bogus frames: unknown types, wrong streams, bad lengths, truncated.
            for _ in range(r.randint(1, 6)):
                t = r.choice([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0x20, 0xff])
                body = bytes(r.randrange(256) for _ in range(r.randint(0, 40)))
                f = h2frame(t, r.randrange(256), r.choice([0, 1, 3, 2**31 - 1, 2]), body)
                if r.random() < 0.3:
                    f = struct.pack(">I", r.choice([0xffffff, 16385, 1 << 20]))[1:] + f[3:]
                frames.append(f)
            out = preface + b"".join(frames)
            return out[:r.randrange(len(out) + 1)] if r.random() < 0.4 else out
        method = r.choice(["/slotraft.RaftService/Append", "/slotraft.RaftService/Vote",
                           "/slotraft.RaftService/PreVote", "/slotraft.RaftService/TransferLeader",
                           "/slotraft.RaftService/InstallSnapshot", "/slotraft.NodeService/Forward",
                           "/slotraft.NodeService/Heartbeat", "/slotraft.NodeService/Publish",
                           "/slotraft.NodeService/AllowRevert", "/slotraft.Nope/X", "/"])
        headers = [(":method", r.choice(["POST", "POST", "GET"])), (":scheme", "http"), (":path", method),
                   (":authority", "fuzz"), ("content-type", r.choice(["application/grpc", "application/grpc", "text/plain"])),
                   ("te", "trailers")]
        if r.random() < 0.2:
            headers.append(("grpc-encoding", r.choice(["gzip", "nope"])))
        frames.append(h2frame(1, 0x4, 1, hpack(headers)))
        msg = self.grpc_body(r, method)
        flag = 1 if r.random() < 0.1 else 0
        length = len(msg)
        if r.random() < 0.15:
            length = r.choice([2**32 - 1, 512 * 1024 * 1024 + 1, length + 10, max(0, length - 1)])
        data = bytes([flag]) + struct.pack(">I", length) + msg
        frames.append(h2frame(0, 0x1, 1, data))
        out = preface + b"".join(frames)
        if r.random() < 0.2:
            out = out[:r.randrange(len(out) + 1)]
        return out

    def grpc_body(self, r, method):
        garbage = bytes(r.randrange(256) for _ in range(r.randint(0, 60)))
        if r.random() < 0.4:
            return garbage
        name = method.rsplit("/", 1)[-1]
        # A payload postcard cannot read as a Raft message (see append_stream).
        payload = b"\xff" * 10 + b"\x7f" + garbage
        group = r.choice([1, 2, 3, 0, 99, 2**64 - 1])
        if name in ("Append", "Vote", "PreVote", "TransferLeader"):
            return pb_varint(1, group) + pb_bytes(2, payload)
        if name == "InstallSnapshot":
            return pb_varint(1, group) + pb_bytes(2, payload) + pb_bytes(3, garbage)
        if name == "Forward":
            # Commands a forward may run, on a group that may not own their keys.
            args = r.choice([[b"GET", b"{t}a"], [b"PING"], [], [b"SET", b"fwd", b"v"], [b"NOPE"], [b"MULTI"],
                             [b"GET"], [b"SUBSCRIBE", b"x"], [b"BLPOP", b"fwd", b"0.01"], [b"CLUSTER", b"NODES"]])
            return pb_varint(1, group) + b"".join(pb_bytes(2, a) for a in args)
        if name == "Heartbeat":
            # From a node that is not in the cluster, claiming nothing or a group at term 0.
            claims = r.choice([b"", pb_bytes(2, pb_varint(1, 99) + pb_varint(2, 0))])
            return pb_varint(1, r.choice([99, 0, 2**64 - 1])) + claims
        if name == "Publish":
            return pb_bytes(1, garbage) + pb_bytes(2, garbage) + pb_varint(3, r.randrange(2))
        if name == "AllowRevert":
            return pb_varint(1, r.choice([99, 0])) + pb_varint(2, 99)
        return garbage

    def rpc_phase(self, end, count):
        i = 0
        last = time.monotonic()
        target = self.three.procs[-1]
        port = self.three.rpc_ports[-1]
        while (count is None and time.monotonic() < end) or (count is not None and i < count):
            kind, data = self.rpc_input(i)
            self.rpc_inputs += 1
            self.rpc_bytes += len(data)
            r = random.Random("%d:rpc-split:%d" % (self.seed, i))
            try:
                exchange(port, split(r, data), 0.15, shut=r.random() < 0.5)
            except OSError as e:
                self._finding("dropped connection", "RPC: connect failed: %s" % e, i, data, repr(e), None)
            if not target.alive():
                self._finding("crash", "RPC input (%s) crashed the node (%s)" % (kind, target.exit_status()), i, data,
                              target.log_tail(8), None)
                target.start()
                target.wait_ping()
            i += 1
            if time.monotonic() - last >= 10:
                last = time.monotonic()
                self.log("protocol RPC: %d inputs, %d bytes; findings %d" % (self.rpc_inputs, self.rpc_bytes, len(self.findings)))
        self.log("protocol RPC: %d inputs, %d bytes (at node 3's RPC port %d)" % (self.rpc_inputs, self.rpc_bytes, port))


def _norm(x):
    """What this phase compares of a reply: the text of protocol errors and of unknown-command
    errors (which quote the request's bytes), and for everything else only that a reply came:
    what commands answer is the differential phase's business."""
    if isinstance(x, tuple) and x[0] == "-" and (b"Protocol error" in x[1] or x[1].startswith(b"ERR unknown command")):
        # Known difference (see known-differences.txt): slotraft's error texts are UTF-8, bytes
        # that are not come out as U+FFFD where Redis echoes them raw.
        return (x[0], x[1].decode("utf-8", "replace").encode()) + tuple(x[2:])
    return ("+", b"(a reply)")


def _same(x, y):
    """Replies agree: protocol errors word for word, unknown-command errors too unless the
    command is one only Redis has (AUTH...), anything else by being there."""
    unknown = [r[0] == "-" and r[1].startswith(b"ERR unknown command") for r in (x, y)]
    if unknown[0] != unknown[1]:
        return True
    return x == y


def _sig(x):
    from compare import signature
    return signature(["?"], x, x).split(": ", 1)[1].split(" vs ")[0]


def _show(p):
    from resp import render
    s = "; ".join(render(x, 120) for x in p.replies[:8])
    if len(p.replies) > 8:
        s += "; … %d replies in all" % len(p.replies)
    if p.rest:
        s += " [then %d unparsed bytes]" % len(p.rest)
    return s or "(no reply)"


def _bytes(data, most=300):
    s = repr(data[:most])
    return s + (" … (%d bytes in all)" % len(data) if len(data) > most else "")


def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def pb_varint(field, n):
    return _varint(field << 3) + _varint(n)


def pb_bytes(field, b):
    return _varint(field << 3 | 2) + _varint(len(b)) + b


def h2frame(t, flags, stream, body):
    return struct.pack(">I", len(body))[1:] + bytes([t, flags]) + struct.pack(">I", stream & 0x7FFFFFFF) + body


def hpack(headers):
    """Literal header fields without indexing, no Huffman coding."""
    out = bytearray()
    for k, v in headers:
        out.append(0)
        for s in (k.encode(), v.encode()):
            out += _hpack_int(len(s), 7)
            out += s
    return bytes(out)


def _hpack_int(n, prefix):
    top = (1 << prefix) - 1
    if n < top:
        return bytes([n])
    out = bytearray([top])
    n -= top
    while n >= 128:
        out.append(n % 128 + 128)
        n //= 128
    out.append(n)
    return bytes(out)
