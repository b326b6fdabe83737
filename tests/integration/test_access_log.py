"""The access log under load (README "How it runs", logs): a worker holds its access lines back
during one pass of its event loop and writes them together, before the loop waits
again. So every answer's line is in the log by the time the answer arrives, each line
whole, each request once, in text and in JSON. (That warnings are never held back, and
what a full batch does, is tested in tests/unit/test_log.c.)"""

import concurrent.futures
import json
import re
import socket
import threading

import pytest
import requests

from helpers import realm

THREADS = 8
PER_THREAD = 40
TEXT_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (debug|info |warn |error) .*$")


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_every_answer_is_logged_before_it_arrives(dockhand_factory, fmt):
    d = dockhand_factory(DOCKHAND_LOG_FORMAT=fmt, DOCKHAND_LOG_LEVEL="info")
    robots = [d.create_robot("log%d" % i, projects={"p": ["pull"]}) for i in range(THREADS)]
    for r in robots:  # warm: the loaded runs are answered from the caches
        realm.token_ok(d, d.token(["repository:p/app:pull"], auth=(r["name"], r["secret"])))
    missing, jtis = [], []
    lock = threading.Lock()

    def client(i):
        robot = robots[i]
        s = requests.Session()  # keep-alive: many requests per connection, as CI clients do
        for k in range(PER_THREAD):
            rid = "accesslog-%s-%d-%d" % (fmt, i, k)
            r = s.get(d.url + "/service/token",
                      params={"service": d.env["DOCKHAND_SERVICE"],
                              "scope": "repository:p/app%d:pull" % k},
                      auth=(robot["name"], robot["secret"]), headers={"X-Request-Id": rid},
                      timeout=30)
            claims = realm.token_ok(d, r, sub=robot["name"])[1]
            if rid not in d.log_text():
                with lock:
                    missing.append(rid)
            with lock:
                jtis.append(claims["jti"])
        s.close()

    with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(client, range(THREADS)))
    assert not missing, "answers that arrived before their log line: %s" % missing[:10]
    # token ids come from a per-thread pool of random bytes: all distinct, 128 bits each
    assert len(set(jtis)) == len(jtis) == THREADS * PER_THREAD
    assert all(realm.jti_bits(j) >= 128 for j in jtis)

    text = d.log_text()
    assert text.endswith("\n")
    seen = {}
    for line in text.splitlines():
        if line.startswith("----- "):
            continue  # the test harness's marks between instances and commands
        if fmt == "json":
            o = json.loads(line)  # every line one whole object
            rid, msg = o.get("request_id", ""), o["msg"]
        else:
            assert TEXT_LINE.match(line), "not a whole log line: %r" % line[:200]
            m = re.search(r"\[([^\]]*)\] (.*)$", line)
            rid, msg = (m.group(1), m.group(2)) if m else ("", line)
        if rid.startswith("accesslog-"):
            seen[rid] = seen.get(rid, 0) + 1
            i, k = (int(x) for x in rid.split("-")[2:])
            assert re.match(r"GET /service/token 200 \d+\.\d\dms token for %s granted "
                            r"repository:p/app%d:pull$" % (re.escape(robots[i]["name"]), k),
                            msg), msg
    assert len(seen) == THREADS * PER_THREAD
    assert set(seen.values()) == {1}, "a request logged more than once"



@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_request_whose_path_is_not_utf8_is_logged(dockhand_factory, fmt):
    d = dockhand_factory(DOCKHAND_LOG_FORMAT=fmt, DOCKHAND_LOG_LEVEL="info")
    host, port = d.url.split("//")[1].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(b"GET /nope\xff\xfe HTTP/1.1\r\nHost: x\r\nX-Request-Id: notutf8\r\n"
                  b"Connection: close\r\n\r\n")
        reply = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 4"), reply[:200]
    assert "notutf8" in d.log_text(), d.log_tail()
