"""The servers a fuzz run talks to: a one-node slotraft, a three-node slotraft cluster and a
redis-server in cluster mode, each a child process started on fixed ports (--base-port) with
its files in the run's directory; and the checks made after each phase (alive, writable,
replicas' DEBUG DIGEST equal)."""

import os
import re
import socket
import subprocess
import time

from resp import Conn, Closed, Timeout, BadReply, is_error


def crc16(data):
    """CRC16-CCITT (XMODEM), as Redis Cluster hashes keys."""
    crc = 0
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def key_slot(key):
    if isinstance(key, str):
        key = key.encode()
    s = key.find(b"{")
    if s >= 0:
        e = key.find(b"}", s + 1)
        if e > s + 1:
            key = key[s + 1:e]
    return crc16(key) % 16384


def port_free(port):
    with socket.socket() as s:
        try:
            s.connect(("127.0.0.1", port))
            return False
        except OSError:
            return True


class Proc:
    """A server process: how it was started and where it logs."""

    def __init__(self, name, argv, log, port):
        self.name, self.argv, self.log, self.port = name, argv, log, port
        self.p = None

    def start(self):
        if not port_free(self.port):
            raise SystemExit("fuzz: port %d is in use (another run? --base-port)" % self.port)
        with open(self.log, "ab") as log:
            self.p = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def alive(self):
        return self.p is not None and self.p.poll() is None

    def exit_status(self):
        """How it ended, if it did: 'exit 1', 'signal SIGABRT'..."""
        if self.p is None or self.p.poll() is None:
            return None
        rc = self.p.returncode
        if rc < 0:
            import signal
            try:
                return "signal " + signal.Signals(-rc).name
            except ValueError:
                return "signal %d" % -rc
        return "exit %d" % rc

    def log_tail(self, n=15):
        try:
            with open(self.log, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
            return "\n".join(lines[-n:])
        except OSError:
            return ""

    def stop(self):
        if self.p is None or self.p.poll() is not None:
            return
        self.p.terminate()
        try:
            self.p.wait(10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()

    def wait_ping(self, within=15.0):
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if not self.alive():
                raise SystemExit("fuzz: %s exited at start (%s); log %s:\n%s" % (
                    self.name, self.exit_status(), self.log, self.log_tail()))
            try:
                c = Conn(self.port, timeout=1)
                r = c.call("PING")
                c.close()
                if r == ("+", b"PONG"):
                    return
            except (OSError, Closed, Timeout, BadReply):
                pass
            time.sleep(0.1)
        raise SystemExit("fuzz: %s did not answer PING within %ds" % (self.name, within))


def cluster_ok(port):
    try:
        c = Conn(port, timeout=2)
        r = c.call("CLUSTER", "INFO")
        c.close()
        return r[0] in "$=" and b"cluster_state:ok" in (r[1] or b"")
    except (OSError, Closed, Timeout, BadReply):
        return False


def wait_until(what, cond, within):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.1)
    raise SystemExit("fuzz: %s not within %ds" % (what, within))


class Slotraft:
    """A slotraft cluster of `n` nodes (one group per node, every group on every node), its
    RESP ports base, base+1, ...; RPC ports base+50, ..."""

    def __init__(self, binary, work, name, n, base):
        self.n, self.work, self.name = n, work, name
        self.resp_ports = [base + i for i in range(n)]
        self.rpc_ports = [base + 50 + i for i in range(n)]
        os.makedirs(work, exist_ok=True)
        self.config = os.path.join(work, name + ".toml")
        per = 16384 // n
        ranges = [(g * per, 16383 if g == n - 1 else (g + 1) * per - 1) for g in range(n)]
        self.group_ranges = ranges
        members = ", ".join(str(i + 1) for i in range(n))
        lines = [
            "[cluster]",
            'data_dir = "%s"' % os.path.join(work, name + "-data"),
            'fsync = "always"',
            'redirect = "moved"',
            "threads = 1",
            "",
        ]
        for i in range(n):
            lines += ["[[node]]", "id = %d" % (i + 1),
                      'resp = "127.0.0.1:%d"' % self.resp_ports[i],
                      'rpc = "127.0.0.1:%d"' % self.rpc_ports[i], ""]
        for g, (a, b) in enumerate(ranges):
            lines += ["[[group]]", "id = %d" % (g + 1), "members = [%s]" % members,
                      'slots = ["%d-%d"]' % (a, b), ""]
        with open(self.config, "w") as f:
            f.write("\n".join(lines))
        # The cluster secret every node-to-node connection is authenticated with (cluster.secret
        # beside the toml, as slotraft's default); the RPC inputs come from a stranger without it.
        secret = os.path.join(work, "cluster.secret")
        if not os.path.exists(secret):
            fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(os.urandom(32).hex() + "\n")
        self.procs = [
            Proc("%s node %d" % (name, i + 1),
                 [binary, "serve", "--config", self.config, "--node", str(i + 1)],
                 os.path.join(work, "%s-node-%d.log" % (name, i + 1)), self.resp_ports[i])
            for i in range(n)
        ]

    def start(self):
        for p in self.procs:
            p.start()
        for p in self.procs:
            p.wait_ping()
        for port in self.resp_ports:
            wait_until("%s: cluster_state:ok on port %d" % (self.name, port), lambda: cluster_ok(port), 30)

    def stop(self):
        for p in self.procs:
            p.stop()

    def dead(self):
        """(proc, how it ended) for every node no longer running."""
        return [(p, p.exit_status()) for p in self.procs if not p.alive()]

    def keys_per_group(self):
        """A key in each group's slot range."""
        out = []
        for a, b in self.group_ranges:
            i = 0
            while not a <= key_slot("fuzzcheck:%d" % i) <= b:
                i += 1
            out.append("fuzzcheck:%d" % i)
        return out

    def leader_conn(self, key, within=20.0):
        """A connection to the node that serves `key`'s slot, following -MOVED."""
        deadline = time.monotonic() + within
        port = self.resp_ports[0]
        last = None
        while time.monotonic() < deadline:
            try:
                c = Conn(port, timeout=3)
                r = c.call("SET", key, "probe")
                if r == ("+", b"OK"):
                    return c
                c.close()
                last = r
                m = re.match(rb"MOVED \d+ [^:]+:(\d+)", r[1] or b"") if is_error(r) else None
                if m:
                    port = int(m.group(1))
                    continue
            except (OSError, Closed, Timeout, BadReply) as e:
                last = repr(e)
            time.sleep(0.2)
        raise CheckFailed("%s: no writable leader for key %s within %ds (last: %r)" % (self.name, key, within, last))

    def check_writable(self):
        """Every group takes a write and reads it back."""
        for key in self.keys_per_group():
            c = self.leader_conn(key)
            try:
                r = c.call("GET", key)
                if r != ("$", b"probe"):
                    raise CheckFailed("%s: GET %s after SET answered %r" % (self.name, key, r))
                c.call("DEL", key)
            finally:
                c.close()

    def digests(self, port):
        c = Conn(port, timeout=5)
        try:
            r = c.call("DEBUG", "DIGEST")
        finally:
            c.close()
        if r[0] != "*":
            raise CheckFailed("DEBUG DIGEST on port %d answered %r" % (port, r))
        out = {}
        for item in r[1]:
            g, index, digest = item[1].decode().split(" ")
            out[int(g)] = (int(index), digest)
        return out

    def check_digests(self, within=60.0):
        """Replicas of each group at one applied index report one digest. Returns the number of
        groups compared."""
        deadline = time.monotonic() + within
        last = ""
        while time.monotonic() < deadline:
            by_group = {}
            try:
                for port in self.resp_ports:
                    for g, at in self.digests(port).items():
                        by_group.setdefault(g, {})[port] = at
            except (OSError, Closed, Timeout, BadReply) as e:
                last = "DEBUG DIGEST failed: %r" % e
                time.sleep(0.3)
                continue
            settled = True
            for g, at in sorted(by_group.items()):
                if len(at) != self.n:
                    settled, last = False, "group %d on %d nodes only" % (g, len(at))
                    continue
                indexes = {i for i, _ in at.values()}
                if len(indexes) > 1:
                    settled, last = False, "group %d: replicas at indexes %s" % (g, sorted(indexes))
                    continue
                digests = {d for _, d in at.values()}
                if len(digests) > 1:
                    raise CheckFailed("group %d at index %d: replicas hold different data: %s" % (
                        g, indexes.pop(), ", ".join("port %d %s" % (p, d) for p, (_, d) in sorted(at.items()))))
            if settled and len(by_group) == len(self.group_ranges):
                return len(by_group)
            time.sleep(0.3)
        raise CheckFailed("%s: replicas did not reach one applied index within %ds (%s)" % (self.name, within, last))


class CheckFailed(Exception):
    """A post-run check found the cluster not healthy."""


class Redis:
    """Debian's redis-server, cluster mode, owning every slot: the reference."""

    def __init__(self, work, port):
        self.port = port
        d = os.path.join(work, "redis")
        os.makedirs(d, exist_ok=True)
        self.proc = Proc("redis-server", [
            "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", d,
            "--save", "", "--appendonly", "no", "--cluster-enabled", "yes",
            "--cluster-config-file", os.path.join(d, "nodes.conf"), "--daemonize", "no",
            "--enable-debug-command", "local", "--protected-mode", "no",
        ], os.path.join(work, "redis.log"), port)

    def start(self):
        self.proc.start()
        self.proc.wait_ping()
        c = Conn(self.port)
        c.call("CLUSTER", "ADDSLOTSRANGE", "0", "16383")
        c.close()
        wait_until("redis-server cluster_state:ok", lambda: cluster_ok(self.port), 20)

    def stop(self):
        self.proc.stop()
