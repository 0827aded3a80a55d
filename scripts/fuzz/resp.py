"""RESP over raw sockets: requests as bytes we control, replies parsed into plain values.

A reply is a tuple whose first item is its RESP type byte as a one-character string:
  ('+', b'OK')  ('-', b'ERR ...')  (':', 5)  ('$', b'..' or None)  ('*', [..] or None)
  RESP3: ('%', [(k, v), ..])  ('~', [..])  (',', b'1.5')  ('#', True)  ('_', None)
         ('>', [..])  ('=', b'txt:..')  ('(', b'123')  ('|', [(k, v), ..])
Parsed values keep bytes as bytes, so binary replies compare exactly.
"""

import socket
import time


class Closed(Exception):
    """The server closed the connection (or reset it)."""


class Timeout(Exception):
    """No (whole) reply within the deadline."""


class BadReply(Exception):
    """Bytes that are not RESP."""


def encode(args):
    """A request as a RESP array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    """One client connection; replies read with a deadline."""

    def __init__(self, port, host="127.0.0.1", timeout=5.0):
        self.addr = (host, port)
        self.sock = socket.create_connection(self.addr, timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.pos = 0
        self.timeout = timeout
        self.closed = False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
        self.closed = True

    def send(self, data):
        try:
            self.sock.sendall(data)
        except OSError as e:
            self.closed = True
            raise Closed(str(e)) from e

    def call(self, *args, timeout=None):
        self.send(encode(args))
        return self.read(timeout)

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise Timeout()
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout as e:
            raise Timeout() from e
        except OSError as e:
            self.closed = True
            raise Closed(str(e)) from e
        if not chunk:
            self.closed = True
            raise Closed("EOF")
        if self.pos > 1 << 20:
            del self.buf[: self.pos]
            self.pos = 0
        self.buf += chunk

    def _line(self, deadline):
        while True:
            i = self.buf.find(b"\r\n", self.pos)
            if i >= 0:
                line = bytes(self.buf[self.pos:i])
                self.pos = i + 2
                return line
            self._fill(deadline)

    def _exact(self, n, deadline):
        while len(self.buf) - self.pos < n + 2:
            self._fill(deadline)
        data = bytes(self.buf[self.pos:self.pos + n])
        if self.buf[self.pos + n:self.pos + n + 2] != b"\r\n":
            raise BadReply("bulk not followed by CRLF")
        self.pos += n + 2
        return data

    def pending(self):
        """Whether bytes of a reply are already buffered."""
        return self.pos < len(self.buf)

    def read(self, timeout=None):
        """The next whole reply. A Timeout may leave a partial reply consumed: the connection
        is then of no further use for comparisons."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        return self._value(deadline)

    def _value(self, deadline):
        line = self._line(deadline)
        if not line:
            raise BadReply("empty line")
        t, rest = chr(line[0]), line[1:]
        if t in "+-":
            return (t, rest)
        if t == ":":
            return (t, int(rest))
        if t in ",(":
            return (t, rest)
        if t == "#":
            return (t, rest == b"t")
        if t == "_":
            return (t, None)
        if t in "$=!":
            n = int(rest)
            if n < 0:
                return ("$", None)
            data = self._exact(n, deadline)
            return ("-" if t == "!" else t, data)
        if t in "*~>":
            n = int(rest)
            if n < 0:
                return (t, None)
            return (t, [self._value(deadline) for _ in range(n)])
        if t in "%|":
            n = int(rest)
            return (t, [(self._value(deadline), self._value(deadline)) for _ in range(n)])
        raise BadReply("unknown type byte %r" % line[:20])


def is_error(r):
    return isinstance(r, tuple) and r[0] == "-"


def q(b):
    """A redis-cli-like quoting of bytes."""
    if isinstance(b, str):
        b = b.encode()
    out = []
    for c in b:
        ch = chr(c)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif 32 <= c < 127:
            out.append(ch)
        else:
            out.append("\\x%02x" % c)
    return '"' + "".join(out) + '"'


def render_args(args):
    """A request as a redis-cli line (arguments quoted only where needed)."""
    parts = []
    for a in args:
        b = a.encode() if isinstance(a, str) else (str(a).encode() if isinstance(a, int) else a)
        plain = b and all(33 <= c < 127 and chr(c) not in "\"'\\" for c in b)
        parts.append(b.decode() if plain else q(b))
    return " ".join(parts)


def render(r, limit=400):
    """A reply on one line, redis-cli style, cut at `limit` characters."""
    s = _render(r)
    return s if len(s) <= limit else s[:limit] + "…(%d chars)" % len(s)


def _render(r):
    if r is None:
        return "(nothing)"
    if isinstance(r, str):
        return r
    if not isinstance(r, tuple) or len(r) != 2:
        return repr(r)
    t, v = r
    if t == "shape":
        return "(a reply of type %s)" % v
    if t in ("scan", "unordered"):
        return t + "[" + ", ".join(_render(x) if isinstance(x, tuple) and len(x) == 2 and isinstance(x[0], str) else repr(x) for x in v) + "]"
    if t == "+":
        return v.decode("latin-1")
    if t == "-":
        return "(error) " + v.decode("latin-1")
    if t == ":":
        return "(integer) %d" % v
    if t in "$=":
        return "(nil)" if v is None else q(v)
    if t == ",":
        return "(double) " + v.decode()
    if t == "(":
        return "(big number) " + v.decode()
    if t == "#":
        return "(true)" if v else "(false)"
    if t == "_":
        return "(null)"
    if t in "*~>":
        if v is None:
            return "(nil array)"
        name = {"*": "", "~": "set", ">": "push"}[t]
        return name + "[" + ", ".join(_render(x) for x in v) + "]"
    if t in "%|":
        return "{" + ", ".join(_render(k) + ": " + _render(x) for k, x in v) + "}"
    return repr(r)
