"""The HTTP-level fuzzer (issue 13 §1): malformed and mutated raw requests to every route of a
running instance, then the checks that it survived whole.

A client on raw sockets builds a valid request for each route (the token realm GET and POST,
every admin API collection with the administrator's Basic credentials and without, the web
sign-in /c/login, /c/session, /c/limits, the page /ui/..., /keys/..., /healthz, /readyz) and
mutates it: the request line (methods, versions, paths with "..", "%00", bad
percent-encoding, bad UTF-8, overlong), the headers (no colon, folded, duplicated, overlong,
thousands of them, conflicting Content-Length and Transfer-Encoding), chunked framing, the
body (byte flips of the JSON or form, random bytes, deep nesting), pipelining several
requests on one connection, and requests cut short. The random stream is seeded
(HTTP_FUZZ_SEED, default 13) so a run can be replayed; it runs for HTTP_FUZZ_SECONDS
(default 30, 10 under ASan; `scripts/fuzz --http SECONDS` runs it longer).

Then: no answer was a 5xx other than 503, the process is alive, it still issues a correct
token to a robot (the access claim decoded and compared), the admin API still answers, and on
stop it exits 0 (under ASan a leak fails that exit). The counts (requests, connections,
answers by status class) are printed and kept as JUnit properties.
"""

import base64
import json
import os
import random
import re
import socket
import threading
import time
import urllib.parse

import pytest

from helpers import api as apimod

SEED = int(os.environ.get("HTTP_FUZZ_SEED", "13"))
CLIENTS = 4  # connections at once, each with its own random stream (SEED, client)
# The methods dockhand implements; for any other, 501 is the answer RFC 9110 §15.6.2 asks
# for (libevent's), so a 501 is allowed for those requests alone.
IMPLEMENTED = {b"GET", b"HEAD", b"POST", b"PUT", b"PATCH", b"DELETE", b"OPTIONS"}
STATUS = re.compile(rb"HTTP/1\.[01] (\d{3}) ")


def asan_build(path):
    with open(path, "rb") as f:
        return b"__asan_init" in f.read()


def budget(d):
    if "HTTP_FUZZ_SECONDS" in os.environ:
        return float(os.environ["HTTP_FUZZ_SECONDS"])
    return 10.0 if asan_build(d.bin) else 30.0


def basic(user, password):
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


class Fuzzer:
    def __init__(self, d, admin_auth, robot_auth, refresh, rng, wait=1.0):
        self.d = d
        self.wait = wait  # seconds to wait for more of an answer
        self.rng = rng
        self.admin = admin_auth
        self.robot = robot_auth
        self.refresh = refresh
        self.sent = 0
        self.connections = 0
        self.classes = {}
        self.statuses = {}
        self.bad = []  # (status, request head) of every 5xx other than 503
        self.no_answer = 0

    # ---- valid requests, one per route ---------------------------------------------------

    def routes(self):
        svc = self.d.env["DOCKHAND_SERVICE"]
        scope = urllib.parse.quote("repository:p/app:pull,push")
        form_pw = "grant_type=password&service=%s&scope=%s&username=%s&password=%s" % (
            svc, scope, urllib.parse.quote(self.robot[0]), urllib.parse.quote(self.robot[1]))
        form_rt = "grant_type=refresh_token&service=%s&scope=%s&refresh_token=%s" % (
            svc, scope, self.refresh)
        robot_body = json.dumps(apimod.robot_body(
            "fz%d" % self.rng.randrange(10**6), apimod.perm("p", ("repository", "pull"))))
        admin = basic(*self.admin)
        form = "application/x-www-form-urlencoded"
        js = "application/json"
        return [
            ("GET", "/service/token?service=%s&scope=%s" % (svc, scope),
             [("Authorization", basic(*self.robot))], None, None),
            ("GET", "/service/token?service=%s&scope=%s" % (svc, scope), [], None, None),
            ("GET", "/token?service=%s&account=x" % svc, [], None, None),
            ("POST", "/service/token", [], form, form_pw),
            ("POST", "/service/token", [], form, form_rt),
            ("GET", "/api/v2.0/robots?q=name%3D~fz&sort=-creation_time&page_size=5",
             [("Authorization", admin)], None, None),
            ("GET", "/api/v2.0/robots/1", [("Authorization", admin)], None, None),
            ("POST", "/api/v2.0/robots", [("Authorization", admin)], js, robot_body),
            ("PUT", "/api/v2.0/robots/1", [("Authorization", admin)], js,
             '{"description":"x","duration":30}'),
            ("PATCH", "/api/v2.0/robots/999999", [("Authorization", admin)], js,
             '{"secret":null}'),
            ("DELETE", "/api/v2.0/robots/999999", [("Authorization", admin)], None, None),
            ("GET", "/api/v2.0/projects?q=name%3D~p", [("Authorization", admin)], None, None),
            ("HEAD", "/api/v2.0/projects?project_name=p", [("Authorization", admin)], None,
             None),
            ("POST", "/api/v2.0/projects", [("Authorization", admin)], js,
             '{"project_name":"fz%d","metadata":{"public":"false"}}'
             % self.rng.randrange(10**6)),
            ("GET", "/api/v2.0/projects/p", [("Authorization", admin)], None, None),
            ("DELETE", "/api/v2.0/projects/nosuchproject", [("Authorization", admin)], None,
             None),
            ("GET", "/api/v2.0/configurations", [("Authorization", admin)], None, None),
            ("PUT", "/api/v2.0/configurations", [("Authorization", admin)], js,
             '{"token_expiration":30}'),
            ("GET", "/api/v2.0/permissions", [("Authorization", admin)], None, None),
            ("GET", "/api/v2.0/audit-logs?q=op_time%3D%5B2020-01-01~%5D&page_size=3",
             [("Authorization", admin)], None, None),
            ("GET", "/api/v2.0/robots", [], None, None),
            ("POST", "/api/v2.0/robots", [], js, robot_body),
            ("POST", "/c/login", [], form, "principal=%s&password=%s" % self.admin),
            ("GET", "/c/session", [], None, None),
            ("POST", "/c/log_out", [], None, None),
            ("GET", "/c/limits", [], None, None),
            ("GET", "/ui/", [], None, None),
            ("GET", "/ui/app.js", [("If-None-Match", '"x"')], None, None),
            ("GET", "/keys/certs.pem", [], None, None),
            ("GET", "/keys/jwks.json", [], None, None),
            ("GET", "/healthz", [], None, None),
            ("GET", "/readyz", [], None, None),
        ]

    # ---- mutations -----------------------------------------------------------------------

    def junk(self, n):
        r = self.rng
        kind = r.randrange(4)
        if kind == 0:
            return bytes(r.randrange(256) for _ in range(n))
        if kind == 1:
            return bytes(r.choice(b"%./\\\x00\xc0\xff~+&=?#:;@ \t") for _ in range(n))
        if kind == 2:
            return r.choice([b"..", b"%00", b"%zz", b"%", b"%C0%AF", b"%ED%A0%80", b"\xc3(",
                             b"%2e%2e", b"/../..", b"\r\n", b"\x00", b"%ff%fe"]) * max(1, n // 4)
        return b"A" * n

    def flip(self, data):
        data = bytearray(data)
        r = self.rng
        for _ in range(r.randrange(1, 8)):
            if not data:
                break
            op = r.randrange(4)
            i = r.randrange(len(data))
            if op == 0:
                data[i] = r.randrange(256)
            elif op == 1:
                del data[i:i + r.randrange(1, 8)]
            elif op == 2:
                data[i:i] = self.junk(r.randrange(1, 16))
            else:
                data[i:i] = data[i:i + r.randrange(1, 32)]
        return bytes(data)

    def build(self, method, target, headers, ctype, body):
        """One request as bytes after 0-3 mutations; returns (bytes, expect_answer)."""
        r = self.rng
        method = method.encode()
        target = target.encode()
        version = b"HTTP/1.1"
        headers = [(k.encode(), v.encode()) for k, v in headers]
        headers.insert(0, (b"Host", b"127.0.0.1"))
        headers.append((b"Connection", b"close"))
        body = body.encode() if body is not None else None
        if ctype:
            headers.append((b"Content-Type", ctype.encode()))
        chunked = False
        length = None
        cut = None
        raw_lines = []
        for _ in range(r.choice([0, 1, 1, 2, 3])):
            m = r.randrange(22)
            if m == 0:
                method = r.choice([b"get", b"FOO", b"CONNECT", b"TRACE", b"OPTIONS", b"G\x00T",
                                   b"PROPFIND", b"X" * r.randrange(1, 5000), b""])
            elif m == 1:
                version = r.choice([b"HTTP/1.0", b"HTTP/9.9", b"HTTP/1.1x", b"", b"HTTP/",
                                    b"http/1.1", b"HTTP/1.1 extra", b"HTTP/0.9"])
            elif m == 2:
                target = target + self.junk(r.randrange(1, 40))
            elif m == 3:
                i = r.randrange(len(target) + 1)
                target = target[:i] + self.junk(r.randrange(1, 20)) + target[i:]
            elif m == 4:
                target = r.choice([b"/api/v2.0/../../etc/passwd", b"/ui/../../../etc/passwd",
                                   b"/ui/%2e%2e/%2e%2e/etc/passwd", b"/service/token%00",
                                   b"/api/v2.0/robots/%00", b"/api/v2.0/robots/1%2F..",
                                   b"//healthz", b"/ui/..%2f..%2fREADME.md", b"*",
                                   b"http://127.0.0.1/healthz", b"/api/v2.0/robots?q=%",
                                   b"/api/v2.0/robots?q=name%3D%C0%80", b"/service/token?%ff=1",
                                   b"/api/v2.0/projects/%2e%2e", b"/c/login/../session"])
            elif m == 5:
                target = target + b"&" + b"&".join(
                    b"k%d=%s" % (i, self.junk(r.randrange(1, 30)))
                    for i in range(r.randrange(1, 400)))
            elif m == 6:
                target = b"/" + b"a" * r.randrange(4000, 70000)
            elif m == 7:
                headers.append((b"X-Long", b"v" * r.randrange(8000, 120000)))
            elif m == 8:
                headers += [(b"X-H%d" % i, b"v") for i in range(r.randrange(100, 3000))]
            elif m == 9:
                raw_lines.append(r.choice([b"NoColonHere", b": empty-name", b" folded-value",
                                           b"\tfolded", b"Bad Name: x", b"X:\x00\x01\xff",
                                           b"Content-Length: -1", b"Content-Length: 1e9",
                                           b"Content-Length: 99999999999999999999",
                                           b"Transfer-Encoding: gzip, chunked",
                                           b"Transfer-Encoding: identity",
                                           b"Expect: 100-continue", b"Connection: upgrade",
                                           b"Upgrade: websocket"]))
            elif m == 10:
                headers = [(k, v) for k, v in headers if k != b"Authorization"]
                headers.append((b"Authorization", r.choice([
                    b"Basic", b"Basic ", b"Basic !!!!", b"Basic " + base64.b64encode(b"nocolon"),
                    b"Basic " + base64.b64encode(b"fuzz:" + self.junk(20)),
                    b"Basic " + base64.b64encode(b"\xff\xfe:x"),
                    b"Bearer " + self.junk(40), b"basic " + b"A" * 9000, b"Digest x",
                    b"Basic " + base64.b64encode(b"fuzz:" + self.refresh.encode()[:-3] + b"xyz")])))
            elif m == 11:
                headers.append((r.choice([b"Authorization", b"Content-Type", b"Host",
                                          b"Content-Length", b"Cookie"]), self.junk(30)))
            elif m == 12:
                headers.append((b"Cookie", b"dockhand_session=" + self.junk(r.randrange(1, 80))))
            elif m == 13 and body is not None:
                body = self.flip(body)
            elif m == 14:
                body = self.junk(r.randrange(0, 3000))
            elif m == 15:
                body = r.choice([b"[" * 100000, b'{"a":' * 20000, b'{"name":"\\ud800"}',
                                 b'{"name":"a","name":"b"}', b"\xef\xbb\xbf{}", b"null",
                                 b'{"permissions":' + b"[{}]" * 1 + b"}", b"{}" * 1000])
            elif m == 16:
                chunked = True
            elif m == 17:
                length = r.choice([0, 1, 10**6, 10**9, -5, "abc", "1, 2", " 7 "])
            elif m == 18:
                cut = r.random()
            elif m == 19:
                headers.append((b"Transfer-Encoding", b"chunked"))
                length = r.randrange(0, 50)
            elif m == 20:
                headers.append((b"Content-Type", self.junk(20)))
            else:
                r.shuffle(headers)
        lines = [method + b" " + target + (b" " + version if version else b"")]
        lines += [k + b": " + v for k, v in headers]
        lines += raw_lines
        payload = body or b""
        if chunked:
            lines.append(b"Transfer-Encoding: chunked")
            payload = self.chunks(payload)
        elif length is not None:
            lines.append(b"Content-Length: " + str(length).encode())
        elif body is not None:
            lines.append(b"Content-Length: %d" % len(body))
        data = b"\r\n".join(lines) + b"\r\n\r\n" + payload
        expect = True
        if cut is not None:
            data = data[:int(len(data) * cut)]
            expect = False
        return data, expect

    def chunks(self, payload):
        r = self.rng
        out = b""
        i = 0
        while i < len(payload):
            n = r.randrange(1, 64)
            part = payload[i:i + n]
            size = b"%x" % len(part)
            if r.random() < 0.1:
                size = r.choice([b"zz", b"-1", b"ffffffffffffffffff", b"", b"1;ext=1", b"0x10",
                                 b"%x" % (len(part) + 5)])
            out += size + b"\r\n" + part + b"\r\n"
            i += n
        if r.random() < 0.9:
            out += b"0\r\n" + r.choice([b"", b"X-Trailer: 1\r\n"]) + b"\r\n"
        return out

    # ---- the wire ------------------------------------------------------------------------

    def exchange(self, requests, expect):
        self.connections += 1
        s = socket.create_connection(("127.0.0.1", self.d.port), timeout=5)
        got = b""
        try:
            s.sendall(b"".join(requests))
            self.sent += len(requests)
            if not expect:
                time.sleep(0.01)
                return
            s.settimeout(self.wait)
            deadline = time.monotonic() + 3 * self.wait
            while time.monotonic() < deadline:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
                if len(STATUS.findall(got)) >= len(requests) and got.endswith(b"\r\n\r\n"):
                    break
        except (socket.timeout, ConnectionError):
            pass
        finally:
            s.close()
        statuses = [int(x) for x in STATUS.findall(got)]
        if not statuses and expect:
            self.no_answer += 1
        for st in statuses:
            self.statuses[st] = self.statuses.get(st, 0) + 1
            cls = "%dxx" % (st // 100)
            self.classes[cls] = self.classes.get(cls, 0) + 1
            unimplemented = any(q.split(b" ", 1)[0] not in IMPLEMENTED for q in requests)
            if st >= 500 and st != 503 and not (st == 501 and unimplemented):
                self.bad.append((st, requests[0][:300]))

    def one(self):
        r = self.rng
        routes = self.routes()
        n = 1 if r.random() < 0.85 else r.randrange(2, 6)  # pipelining
        reqs = []
        expect = True
        for _ in range(n):
            data, e = self.build(*r.choice(routes))
            reqs.append(data)
            expect = expect and e
            if not e:
                break
        if n > 1:  # the last request closes, so the answers end
            reqs.append(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        self.exchange(reqs, expect)

    def run(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.one()


@pytest.fixture
def target(dockhand_factory):
    d = dockhand_factory(DOCKHAND_FAIL_LIMIT_ADDRESS="1000000",
                         DOCKHAND_FAIL_LIMIT_ACCOUNT="1000000")
    api = apimod.ensure_admin(d)
    fuzz_robot = d.create_robot("fuzzer", projects={"p": ["pull", "push"]})
    check_robot = d.create_robot("checker", projects={"p": ["pull", "push"]})
    return d, api, fuzz_robot, check_robot


def test_http_fuzz(target, record_property):
    d, api, fuzz_robot, check_robot = target
    r = d.token(["repository:p/app:pull"], auth=(fuzz_robot["name"], fuzz_robot["secret"]),
                method="POST", access_type="offline")
    assert r.status_code == 200, r.text
    refresh = r.json().get("refresh_token", "x.y.z")
    seconds = budget(d)
    wait = 3.0 if asan_build(d.bin) else 1.0
    clients = [Fuzzer(d, (api.user, api.password), (fuzz_robot["name"], fuzz_robot["secret"]),
                      refresh, random.Random("%d/%d" % (SEED, i)), wait) for i in range(CLIENTS)]
    started = time.monotonic()
    threads = [threading.Thread(target=c.run, args=(seconds,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    f = clients[0]
    for c in clients[1:]:
        f.sent += c.sent
        f.connections += c.connections
        f.no_answer += c.no_answer
        f.bad += c.bad
        for k, v in c.classes.items():
            f.classes[k] = f.classes.get(k, 0) + v
        for k, v in c.statuses.items():
            f.statuses[k] = f.statuses.get(k, 0) + v
    summary = {"seed": SEED, "clients": CLIENTS, "seconds": round(elapsed, 1), "requests": f.sent,
               "connections": f.connections, "answers": dict(sorted(f.classes.items())),
               "statuses": dict(sorted(f.statuses.items())), "no_answer": f.no_answer,
               "bad_5xx": len(f.bad)}
    print("\nHTTP fuzz: %s" % json.dumps(summary))
    for k, v in summary.items():
        record_property("http_fuzz_" + k, json.dumps(v))
    if os.environ.get("HTTP_FUZZ_REPORT"):
        with open(os.environ["HTTP_FUZZ_REPORT"], "w") as out:
            json.dump(summary, out)

    assert f.sent > 0 and sum(f.classes.values()) > 0, summary
    assert not f.bad, "5xx other than 503: %r" % f.bad[:5]
    assert d.running, d.log_tail()
    # Still issues correct tokens: the access claim is exactly what the robot holds.
    r = d.token(["repository:p/app:pull,push,delete"],
                auth=(check_robot["name"], check_robot["secret"]))
    assert r.status_code == 200, r.text
    claims = d.decode(r.json()["token"])
    assert claims["sub"] == check_robot["name"]
    assert claims["access"] == [{"type": "repository", "name": "p/app",
                                 "actions": ["pull", "push"]}], claims["access"]
    assert d.token(["repository:p/app:pull"], auth=(check_robot["name"], "wrong")).status_code \
        == 401
    r = api.get("/robots", params={"q": "name=checker"})
    assert r.status_code == 200 and len(r.json()) == 1, r.text
    d.stop()  # exit 0 asserted (under ASan a leak fails it)
