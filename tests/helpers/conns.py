"""Tools of the hostile-connection tests: an instance under a low descriptor limit, its CPU
time, RSS, log and metrics, and a load generator that runs in a process of its own (so that
the test's own threads, which hold thousands of sockets, do not slow the figures down)."""

import json
import os
import re
import resource
import socket
import stat
import subprocess
import sys
import time

import requests

CLK_TCK = os.sysconf("SC_CLK_TCK")
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (\S+)$')


def raise_own_fd_limit(want):
    """The test's own soft RLIMIT_NOFILE up to want (at most the hard limit); returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    new = min(max(soft, want), hard)
    if new != soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    return new


def limit_descriptors(d, soft, hard):
    """Makes d (not started) run under `ulimit -n`: a wrapper script that lowers the
    limits, then execs the real binary (same pid)."""
    wrapper = os.path.join(d.workdir, "dockhand-nofile.sh")
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\nulimit -Sn %d && ulimit -Hn %d && exec %s \"$@\"\n"
                % (soft, hard, d.bin))
    os.chmod(wrapper, os.stat(wrapper).st_mode | stat.S_IXUSR)
    d.bin = wrapper


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def metrics(d, timeout=5):
    """{(name, frozenset(labels)): value} from d's /metrics."""
    text = requests.get(d.metrics_url, timeout=timeout).text
    out = {}
    for line in text.splitlines():
        m = SAMPLE.match(line)
        if not m or line.startswith("#"):
            continue
        labels = frozenset(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"', m.group(3) or ""))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


def metric(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


def log_bytes(d):
    return os.path.getsize(d.log_path)


def log_since(d, offset):
    with open(d.log_path, "rb") as f:
        f.seek(offset)
        return f.read().decode(errors="replace")


def connect_many(port, n, send=b"", host="127.0.0.1"):
    """n TCP connections to port (each sends `send` once connected); those the kernel
    refused are left out."""
    socks = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(5)
        try:
            s.connect((host, port))
            if send:
                s.sendall(send)
        except OSError:
            s.close()
            continue
        s.setblocking(False)
        socks.append(s)
    return socks


def closed_by_server(s):
    """True when the server has closed s (EOF or reset); never blocks."""
    try:
        data = s.recv(4096)
    except BlockingIOError:
        return False
    except OSError:
        return True
    return data == b"" or closed_by_server(s)


# The well-behaved client: keep-alive connections asking for tokens one after another,
# for `seconds` (or `count` requests per connection), printing the latencies as JSON.
_CLIENT = r"""
import base64, http.client, json, sys, threading, time
port, path, user, secret, conns, seconds, count = sys.argv[1:8]
conns, seconds, count = int(conns), float(seconds), int(count)
auth = "Basic " + base64.b64encode(("%s:%s" % (user, secret)).encode()).decode()
lat, errors, lock = [], [], threading.Lock()
def run():
    c = http.client.HTTPConnection("127.0.0.1", int(port), timeout=10)
    mine, end, n = [], time.monotonic() + seconds, 0
    while (count and n < count) or (not count and time.monotonic() < end):
        t0 = time.monotonic()
        try:
            c.request("GET", path, headers={"Authorization": auth})
            r = c.getresponse()
            body = r.read()
            ok = r.status == 200 and b'"token"' in body
        except Exception as e:
            ok, body = False, repr(e).encode()
            c.close()
            c = http.client.HTTPConnection("127.0.0.1", int(port), timeout=10)
        mine.append(time.monotonic() - t0)
        if not ok:
            with lock:
                errors.append(body[:200].decode(errors="replace"))
        n += 1
    with lock:
        lat.extend(mine)
ts = [threading.Thread(target=run) for _ in range(conns)]
[t.start() for t in ts]
[t.join() for t in ts]
print(json.dumps({"latencies": lat, "errors": errors[:5], "failed": len(errors)}))
"""


def start_clients(d, user, secret, conns=4, seconds=5.0, count=0):
    path = ("/service/token?service=%s&scope=repository:p/app:pull"
            % d.env["DOCKHAND_SERVICE"])
    return subprocess.Popen([sys.executable, "-c", _CLIENT, str(d.port), path, user, secret,
                             str(conns), str(seconds), str(count)],
                            stdout=subprocess.PIPE, text=True)


def finish_clients(p):
    out, _ = p.communicate(timeout=120)
    return json.loads(out)


def percentile(values, q):
    v = sorted(values)
    return v[min(len(v) - 1, int(q * len(v)))] if v else float("nan")
