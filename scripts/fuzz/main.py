"""scripts/fuzz.sh: differential and protocol fuzzing of slotraft (see scripts/fuzz.sh --help).

Deterministic for a seed: case i of the differential phase and input i of the protocol phase
are functions of (seed, i) only, so --time only decides how far a run gets; --cases and
--inputs fix the counts instead (the same seed and counts then give the same run)."""

import argparse
import os
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from compare import Known, name_of  # noqa: E402
from differential import Differential, MODE_CHANGERS, Finding  # noqa: E402
from gen import OTHER, Sequences  # noqa: E402
from resp import Conn, Closed, Timeout, BadReply, encode, render, render_args  # noqa: E402
from servers import Slotraft, Redis, CheckFailed  # noqa: E402
import protocol  # noqa: E402


def parse():
    p = argparse.ArgumentParser(prog="scripts/fuzz.sh", description=__doc__)
    p.add_argument("--time", type=float, default=300, help="seconds in all (default 300)")
    p.add_argument("--seed", type=int, default=1, help="the run's seed (default 1)")
    p.add_argument("--cases", type=int, help="differential cases to run, instead of a share of --time")
    p.add_argument("--inputs", type=int, help="protocol inputs to send, instead of a share of --time")
    p.add_argument("--case-length", type=int, default=40, help="commands per differential case")
    p.add_argument("--base-port", type=int, default=7400, help="ports used: BASE..BASE+99 (default 7400)")
    p.add_argument("--work", help="run directory (default target/fuzz of the checkout)")
    p.add_argument("--phases", default="diff,resp,rpc", help="which phases: diff,resp,rpc")
    p.add_argument("--known", default=os.path.join(HERE, "known-differences.txt"))
    return p.parse_args()


class Run:
    def __init__(self, a):
        self.a = a
        self.t0 = time.monotonic()
        self.root = os.path.dirname(os.path.dirname(HERE))
        self.work = a.work or os.path.join(self.root, "target", "fuzz")
        self.binary = os.environ.get("SLOTRAFT_BIN") or os.path.join(self.root, "target", "release", "slotraft")
        self.failures = []
        self.report_lines = []

    def log(self, msg):
        line = "fuzz: [%5.1fs] %s" % (time.monotonic() - self.t0, msg)
        print(line, flush=True)

    def start(self):
        if not os.access(self.binary, os.X_OK):
            raise SystemExit("fuzz: no slotraft binary at %s (SLOTRAFT_BIN)" % self.binary)
        shutil.rmtree(self.work, ignore_errors=True)
        os.makedirs(self.work)
        b = self.a.base_port
        self.redis = Redis(self.work, b + 99)
        self.one = Slotraft(self.binary, self.work, "one", 1, b + 1)
        self.three = Slotraft(self.binary, self.work, "three", 3, b + 11)
        self.redis.start()
        self.one.start()
        self.three.start()
        self.log("servers up: slotraft one node :%d, three nodes :%s, redis-server :%d (files in %s)" % (
            self.one.resp_ports[0], ",".join(map(str, self.three.resp_ports)), self.redis.port, self.work))

    def stop(self):
        for s in (getattr(self, "one", None), getattr(self, "three", None), getattr(self, "redis", None)):
            if s is not None:
                s.stop()

    def commands(self):
        c = Conn(self.one.resp_ports[0])
        names = [x[1].decode().upper() for x in c.call("COMMAND", "LIST")[1]]
        info = c.call("COMMAND", "INFO", *[n for n in names if "|" not in n])
        c.close()
        arity = {}
        for row in info[1] or []:
            if row[0] == "*" and row[1]:
                arity[row[1][0][1].decode().upper()] = row[1][1][1]
        return names, arity


class Mirror:
    """Feeds each differential case to the three-node cluster too, pipelined, so that its
    replicas apply every command family (compared by DEBUG DIGEST at the end)."""

    def __init__(self, three, log):
        self.three, self.log = three, log
        self.conn = None
        self.sent = 0
        self.failures = []

    def __call__(self, seq):
        if any(name_of(c).split("|")[0] in MODE_CHANGERS or name_of(c) in ("CLIENT|REPLY", "CLIENT|KILL") for c in seq):
            return
        try:
            if self.conn is None:
                self.conn = self.three.leader_conn("{t}")
            marker = b"mirror-%d" % self.sent
            seq = [c[1:] if c and c[0] == OTHER else c for c in seq]
            self.conn.send(b"".join(encode(c) for c in seq) + encode(["RESET"]) + encode(["ECHO", marker]))
            self.sent += 1
            deadline = time.monotonic() + 20
            while True:
                r = self.conn.read(max(0.1, deadline - time.monotonic()))
                if r[0] in "$=" and r[1] == marker:
                    break
                if r[0] == "-" and r[1].startswith(b"MOVED"):
                    self.conn.close()
                    self.conn = None
                    break
        except (Closed, Timeout, BadReply, OSError, CheckFailed) as e:
            dead = self.three.dead()
            what = "; ".join("%s %s" % (p.name, st) for p, st in dead) or "no node exited"
            self.failures.append("three-node cluster: %r while feeding it a case (%s)" % (e, what))
            self.log("three-node cluster: %r while feeding it a case (%s)" % (e, what))
            if self.conn is not None:
                self.conn.close()
            self.conn = None


def health(run, cluster, digests):
    """Every node up, every group writable, and (with `digests`) replicas identical."""
    dead = cluster.dead()
    if dead:
        for p, st in dead:
            run.failures.append("%s is down (%s); log %s:\n%s" % (p.name, st, p.log, p.log_tail(10)))
        return
    try:
        cluster.check_writable()
        if digests:
            n = cluster.check_digests()
            run.log("%s: every node up, every group writable, replicas of %d groups identical (DEBUG DIGEST)" % (cluster.name, n))
        else:
            run.log("%s: every node up, every group writable" % cluster.name)
    except CheckFailed as e:
        run.failures.append(str(e))
        run.log("CHECK FAILED: %s" % e)


def main():
    a = parse()
    run = Run(a)
    phases = set(a.phases.split(","))
    known = Known(a.known)
    try:
        run.start()
        return fuzz(run, a, phases, known)
    finally:
        run.stop()


def fuzz(run, a, phases, known):
    names, arity = run.commands()
    seqs = Sequences(a.seed, names)
    seqs.set_arity(arity)
    if seqs.unknown_grammar:
        run.log("commands with no grammar (arguments from their arity): %s" % " ".join(seqs.unknown_grammar))
    # The budget: most to the differential phase, the rest to the protocol phases; the
    # servers' start and the checks at the end count too, so --time is about the wall time.
    t_start = time.monotonic()
    budget = max(a.time - (t_start - run.t0), 1.0)
    share = {"diff": 0.62, "resp": 0.2, "rpc": 0.1}
    active = sum(share[p] for p in phases if p in share)
    share = {p: share[p] / active * 0.92 for p in phases if p in share}

    diff = Differential(seqs, run.one, run.redis, known, run.log, a.case_length)
    mirror = Mirror(run.three, run.log)
    diff.mirror = mirror
    if "diff" in phases:
        end = t_start + budget * share["diff"]
        diff.shrink_left = 0.4 * budget * share["diff"]
        i = 0
        last = time.monotonic()
        while (a.cases is None and time.monotonic() < end) or (a.cases is not None and i < a.cases):
            try:
                diff.run_case(i)
            except Exception:  # a bug of the fuzzer's own: said, and the run goes on
                import traceback
                run.failures.append("the fuzzer failed in case %d (seed %d):\n%s" % (i, a.seed, traceback.format_exc()))
                run.log("the fuzzer failed in case %d: %s" % (i, traceback.format_exc().splitlines()[-1]))
                diff._aux()
            i += 1
            if time.monotonic() - last >= 10:
                last = time.monotonic()
                run.log("differential: %d cases, %d commands, %d bytes; differences new %d, known %d; crashes %d" % (
                    diff.cases, diff.commands, diff.bytes, sum(1 for f in diff.findings.values() if f.kind == "wrong reply"),
                    sum(diff.known_hits.values()), sum(1 for f in diff.findings.values() if f.kind != "wrong reply")))
        run.log("differential: %d cases, %d commands, %d bytes (and fed to the three-node cluster: %d cases)" % (
            diff.cases, diff.commands, diff.bytes, mirror.sent))
    proto = protocol.Protocol(a.seed, run.one, run.three, run.redis, run.log)
    if "resp" in phases:
        end = time.monotonic() + budget * share["resp"]
        proto.resp_phase(end, a.inputs)
    if "rpc" in phases:
        end = time.monotonic() + budget * share["rpc"]
        proto.rpc_phase(end, a.inputs)
    run.failures += mirror.failures
    health(run, run.one, digests=False)
    health(run, run.three, digests=True)
    return summary(run, diff, proto, known)


def summary(run, diff, proto, known):
    findings = list(diff.findings.values()) + proto.findings
    order = {"crash": 0, "hang": 1, "dropped connection": 2, "wrong reply": 3}
    findings.sort(key=lambda f: (order.get(f.kind, 9), f.sig))
    out = []
    for f in findings:
        out.append("")
        out.append("== %s: %s  (seen %d times; seed %d, case %d)" % (f.kind, f.sig, f.count, f.seed, f.case))
        if f.reason:
            out.append("   " + f.reason.replace("\n", "\n   "))
        seq = f.shrunk or f.seq
        out.append("   reproduce (%s%d commands, on a fresh server%s):" % (
            "shrunk to " if f.shrunk else "", len(seq),
            "; @OTHER: on a second connection" if any(c and c[0] == OTHER for c in seq if isinstance(c, list)) else ""))
        for c in seq[-60:]:
            out.append("     " + (render_args(c) if isinstance(c, list) else str(c)))
        out.append("   slotraft: %s" % (render(f.rs) if isinstance(f.rs, tuple) else f.rs))
        if f.rr is not None:
            out.append("   redis:    %s" % (render(f.rr) if isinstance(f.rr, tuple) else f.rr))
    report = os.path.join(run.work, "findings.txt")
    with open(report, "w") as fh:
        fh.write("\n".join(out) + "\n")
    for line in out:
        print(line)
    new_diffs = [f for f in findings if f.kind == "wrong reply"]
    crashes = [f for f in findings if f.kind != "wrong reply"]
    print()
    print("fuzz: summary (seed %d, %.0f s):" % (run.a.seed, time.monotonic() - run.t0))
    print("  differential: %d cases, %d commands, %d bytes" % (diff.cases, diff.commands, diff.bytes))
    print("  protocol: %d RESP inputs (%d bytes), %d RPC inputs (%d bytes)" % (
        proto.resp_inputs, proto.resp_bytes, proto.rpc_inputs, proto.rpc_bytes))
    print("  tried in all: %d commands, %d bytes" % (diff.commands + proto.resp_inputs,
                                                        diff.bytes + proto.resp_bytes + proto.rpc_bytes))
    print("  differences: %d new (kinds), %d known (%d occurrences of %d listed reasons)" % (
        len(new_diffs), len(diff.known_hits), sum(diff.known_hits.values()), len(known.entries)))
    print("  crashes, hangs, dropped connections: %d" % len(crashes))
    print("  one-node restarts after a crash: %d" % diff.restarts)
    for f in run.failures:
        print("  FAILED CHECK: " + f.replace("\n", "\n    "))
    print("  findings: %s" % report)
    return 1 if findings or run.failures else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
