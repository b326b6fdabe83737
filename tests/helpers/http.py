"""HTTP at the byte level, for requests that `requests` will not send as written
(oversized headers, bodies the server cuts off, raw bytes in the request line)."""

import select
import socket
import time

from requests.structures import CaseInsensitiveDict


class RawResponse:
    def __init__(self, status, reason, headers, body, raw):
        self.status_code = status
        self.reason = reason
        self.headers = headers
        self.content = body
        self.raw = raw

    def json(self):
        import json
        return json.loads(self.content)

    @property
    def text(self):
        return self.content.decode("utf-8", "replace")

    def __repr__(self):
        return "RawResponse(%s %s, %r)" % (self.status_code, self.reason, self.content[:200])


def raw_request(port, data, host="127.0.0.1", timeout=10):
    """Sends data (bytes: a whole request) and reads until the server closes or the
    response is complete. The request goes out in pieces, and sending stops as soon as
    the server answers (a server refusing a body answers before reading it all; had we
    kept writing, its close could reset the connection and lose the answer). Returns
    RawResponse, or None when the server closed without a response."""
    s = socket.create_connection((host, port), timeout=timeout)
    chunks = []
    try:
        pos = 0
        step = 16384
        while pos < len(data):
            readable, _, _ = select.select([s], [], [], 0)
            if readable:
                break
            try:
                pos += s.send(data[pos:pos + step])
            except (BrokenPipeError, ConnectionResetError):
                break
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                b = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not b:
                break
            chunks.append(b)
            if _complete(b"".join(chunks)):
                break
    finally:
        s.close()
    raw = b"".join(chunks)
    if not raw:
        return None
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    status = int(parts[1])
    reason = parts[2] if len(parts) > 2 else ""
    headers = CaseInsensitiveDict()
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip()] = v.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = _dechunk(body)
    return RawResponse(status, reason, headers, body, raw)


def _complete(raw):
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.decode("latin-1").split("\r\n")[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == "content-length":
            return len(body) >= int(v.strip())
        if k.strip().lower() == "transfer-encoding" and "chunked" in v.lower():
            return body.endswith(b"0\r\n\r\n")
    return False


def _dechunk(body):
    out = b""
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2:]
    return out


def request(port, method, target, headers=None, body=None, chunked=False, timeout=10):
    """Builds and sends one HTTP/1.1 request exactly as given (target is not re-encoded;
    header values may be bytes); returns RawResponse or None."""
    lines = [b"%s %s HTTP/1.1" % (method.encode(), target if isinstance(target, bytes)
                                  else target.encode("latin-1")),
             b"Host: 127.0.0.1:%d" % port, b"Connection: close"]
    for k, v in (headers or {}).items():
        lines.append(k.encode() + b": " + (v if isinstance(v, bytes) else v.encode("latin-1")))
    if body is not None:
        if isinstance(body, str):
            body = body.encode()
        if chunked:
            lines.append(b"Transfer-Encoding: chunked")
            step = 4096
            out = b""
            for i in range(0, len(body), step):
                part = body[i:i + step]
                out += b"%x\r\n%s\r\n" % (len(part), part)
            body = out + b"0\r\n\r\n"
        else:
            lines.append(b"Content-Length: %d" % len(body))
    data = b"\r\n".join(lines) + b"\r\n\r\n" + (body or b"")
    return raw_request(port, data, timeout=timeout)
