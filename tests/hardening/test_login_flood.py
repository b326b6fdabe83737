"""Issue 13 §4: a flood of distinct failing login names, each from its own address, and in
its midst two attackers: one guessing one robot's secret (the per-account throttle must
trip after DOCKHAND_FAIL_LIMIT_ACCOUNT tries), one trying a new name each time from one
address (the per-address throttle must trip after DOCKHAND_FAIL_LIMIT_ADDRESS). Memory
stays bounded: the failed-login table is fixed (RATELIMIT_SLOTS), the caches are LRU.

Every failing login costs a PBKDF2 (unknown names are verified against a dummy hash) and
a database look-up: about 350 a second here on the normal build, 18 with ASan (under a load
average of 28), so CI runs 2,000 names; the 1,000,000 of the issue run with
DOCKHAND_TEST_FLOOD_NAMES=1000000 (about 50 minutes at that rate). The table's overflow,
15 times over, is the unit test test_caches's (the table driven directly with 1,000,000
names and the same two attackers)."""

import json
import os
import subprocess
import sys
import threading
import time

import requests

from helpers import conns as C

NAMES = int(os.environ.get("DOCKHAND_TEST_FLOOD_NAMES", "2000"))

# Each request a new connection from its own loopback address (127.1.0.0 on), one
# distinct name each, with a wrong secret; prints progress lines, then the statuses.
_FLOOD = r"""
import base64, json, socket, sys, threading
port, service, names, threads = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
lock, nxt, statuses, done = threading.Lock(), [0], {}, [0]
def addr(i):
    return "127.%d.%d.%d" % (1 + (i >> 16) % 250, (i >> 8) & 255, i & 255)
def one(i):
    auth = base64.b64encode(b"robot$flood-%d:wrong-secret" % i).decode()
    req = ("GET /service/token?service=%s&scope=repository:p/app:pull HTTP/1.1\r\nHost: x\r\n"
           "Authorization: Basic %s\r\nConnection: close\r\n\r\n" % (service, auth)).encode()
    s = socket.socket()
    s.settimeout(30)
    s.bind((addr(i), 0))
    s.connect(("127.0.0.1", port))
    s.sendall(req)
    data = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
    s.close()
    return data[9:12].decode() if data.startswith(b"HTTP/1.1 ") else "none"
def run():
    while True:
        with lock:
            i = nxt[0]
            nxt[0] += 1
        if i >= names:
            return
        try:
            st = one(i)
        except OSError as e:
            st = type(e).__name__
        with lock:
            statuses[st] = statuses.get(st, 0) + 1
            done[0] += 1
            if done[0] % 100 == 0:
                print("progress %d" % done[0], flush=True)
ts = [threading.Thread(target=run) for _ in range(threads)]
[t.start() for t in ts]
[t.join() for t in ts]
print(json.dumps(statuses), flush=True)
"""


def attack(d, source, names, out, stop):
    """Tries until stop is set: source is the client address, names(i) the login name of
    try i (all with a wrong secret). Appends each status to out."""
    sess = requests.Session()
    sess.mount("http://", _SourceAdapter(source))
    i = 0
    while not stop.is_set():
        r = sess.get(d.url + "/service/token",
                     params={"service": d.env["DOCKHAND_SERVICE"],
                             "scope": "repository:p/app:pull"},
                     auth=(names(i), "wrong-secret"), timeout=30)
        out.append(r.status_code)
        i += 1
        time.sleep(0.01)


class _SourceAdapter(requests.adapters.HTTPAdapter):
    def __init__(self, source):
        self.source = source
        super().__init__()

    def init_poolmanager(self, *a, **kw):
        kw["source_address"] = (self.source, 0)
        return super().init_poolmanager(*a, **kw)


def test_a_flood_of_failing_names_leaves_the_throttles_working(dockhand_factory):
    d = dockhand_factory(DOCKHAND_LOG_LEVEL="warn", DOCKHAND_FAIL_LIMIT_ACCOUNT=10,
                         DOCKHAND_FAIL_LIMIT_ADDRESS=50, DOCKHAND_FAIL_WINDOW=3600,
                         DOCKHAND_ROBOT_CACHE_SIZE=5000, DOCKHAND_AUDIT_TOKENS=0)
    d.create_robot("victim")
    pid = d.proc.pid
    flood = subprocess.Popen([sys.executable, "-c", _FLOOD, str(d.port),
                              d.env["DOCKHAND_SERVICE"], str(NAMES), "8"],
                             stdout=subprocess.PIPE, text=True)
    t0 = time.monotonic()
    rss = []
    stop = threading.Event()
    one_account, one_address, attackers = [], [], []
    done = 0
    for line in flood.stdout:
        if not line.startswith("progress"):
            statuses = json.loads(line)
            break
        done = int(line.split()[1])
        if done % max(100, NAMES // 10 // 100 * 100) == 0:
            rss.append((done, C.rss_kib(pid)))
        if not attackers and done >= NAMES * 2 // 10:
            # In the middle of the flood, with the table full of its names.
            attackers = [
                threading.Thread(target=attack, args=(d, "127.0.0.1", lambda i: "robot$victim",
                                                      one_account, stop)),
                threading.Thread(target=attack, args=(d, "127.0.0.2",
                                                      lambda i: "robot$guess-%d" % i,
                                                      one_address, stop))]
            for t in attackers:
                t.start()
    flood.wait(timeout=60)
    took = time.monotonic() - t0
    stop.set()
    for t in attackers:
        t.join(timeout=60)
    s = C.metrics(d)
    entries = C.metric(s, "dockhand_ratelimit_entries")
    rss.append((NAMES, C.rss_kib(pid)))
    half = [kib for n, kib in rss if n >= NAMES // 2]
    print("\n%d failing names in %.1f s (%.0f/s): %s; table %d of %d slots"
          % (NAMES, took, NAMES / took, statuses, entries,
             C.metric(s, "dockhand_ratelimit_capacity")))
    print("one account: %d tries, statuses %s...; one address: %d tries, statuses %s..."
          % (len(one_account), one_account[:12], len(one_address), one_address[:52]))
    print("RSS KiB by names done: %s" % rss)

    assert statuses == {"401": NAMES}, statuses
    assert len(one_account) > 12 and len(one_address) > 52, "the attackers ran too briefly"
    assert one_account[:10] == [401] * 10 and set(one_account[10:]) == {429}, one_account
    assert one_address[:50] == [401] * 50 and set(one_address[50:]) == {429}, one_address
    assert entries <= C.metric(s, "dockhand_ratelimit_capacity")
    # Bounded: the table is fixed and the caches LRU (DOCKHAND_ROBOT_CACHE_SIZE=5000 fills
    # early). Over the second half RSS grew 0.02 MiB here (11 MiB with ASan, its quarantine
    # of freed memory): the bound is loose enough for both.
    assert max(half) - min(half) < 32 * 1024, rss
