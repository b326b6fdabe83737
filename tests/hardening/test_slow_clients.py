"""Issue 13 §4: 10,000 idle connections, slow-loris headers (a byte a second) and slow
bodies, while well-behaved clients keep getting tokens. Each kind is closed by its own
deadline (DOCKHAND_IDLE_TIMEOUT, DOCKHAND_HEADER_TIMEOUT, DOCKHAND_BODY_TIMEOUT: for the
whole phase, so a byte a second does not keep a connection alive), the clients' p99
stays under 100 ms (or, on a loaded machine, within 3 times the p99 measured without the
hostile load in the same run), and memory stays bounded."""

import selectors
import socket
import time

from helpers import conns as C

USER = "robot$slow"
IDLE, HEADERS, BODY = 8, 3, 5  # seconds: three different deadlines, told apart by timing
N_IDLE, N_SLOW = 10000, 50
LATE = 6  # seconds a close may come after its deadline on a loaded 2-core machine (seen:
# 4 s with ASan under a load average of 40); without the deadlines they would live
# 30 s (evhttp's own per-read timeout) or, a byte a second, until their bytes ran out


def accepted(d, n, timeout=30):
    """Waits until d has n client connections open (it has accepted them)."""
    end = time.monotonic() + timeout
    while C.metric(C.metrics(d), "dockhand_connections_open") < n:
        assert time.monotonic() < end, "the server did not accept %d connections" % n
        time.sleep(0.05)


def test_idle_slow_loris_and_slow_bodies_are_closed_while_tokens_flow(dockhand_factory):
    C.raise_own_fd_limit(N_IDLE + 2 * N_SLOW + 200)
    d = dockhand_factory(DOCKHAND_LOG_LEVEL="info", DOCKHAND_IDLE_TIMEOUT=IDLE,
                         DOCKHAND_HEADER_TIMEOUT=HEADERS, DOCKHAND_BODY_TIMEOUT=BODY)
    pid = d.proc.pid
    secret = d.create_robot("slow")["secret"]
    assert d.token(["repository:p/app:pull"], auth=(USER, secret)).status_code == 200

    base = C.finish_clients(C.start_clients(d, USER, secret, conns=4, seconds=4))
    assert base["failed"] == 0, base["errors"]
    p99_base = C.percentile(base["latencies"], 0.99)
    rss0 = C.rss_kib(pid)

    sel = selectors.DefaultSelector()
    # socket -> (kind, the earliest and the latest its deadline's clock can have started:
    # when the client sent, and when the server was seen to have accepted it)
    opened = {}
    t0 = time.monotonic()
    idle = C.connect_many(d.port, N_IDLE)
    t_idle = time.monotonic()
    accepted(d, N_IDLE)
    t_idle_seen = time.monotonic()
    for s in idle:
        opened[s] = ("idle", t0, t_idle_seen)
    line = ("GET /service/token?service=%s HTTP/1.1\r\nHost: x\r\n\r\n"
            % d.env["DOCKHAND_SERVICE"]).encode()
    loris = [(s, line) for s in C.connect_many(d.port, N_SLOW)]
    post = b"POST /service/token HTTP/1.1\r\nHost: x\r\nContent-Type: " \
           b"application/x-www-form-urlencoded\r\nContent-Length: 200\r\n\r\n"
    t_body = time.monotonic()
    bodies = [(s, b"x" * 200) for s in C.connect_many(d.port, N_SLOW, send=post)]
    accepted(d, N_IDLE + 2 * N_SLOW)
    t_slow = time.monotonic()  # the slow-loris bytes start after it
    for s, _ in loris:
        opened[s] = ("headers", t_slow, t_slow)
    for s, _ in bodies:
        opened[s] = ("body", t_body, t_slow)
    assert len(idle) == N_IDLE and len(loris) == len(bodies) == N_SLOW
    for s in opened:
        sel.register(s, selectors.EVENT_READ)

    clients = C.start_clients(d, USER, secret, conns=4, seconds=IDLE + 1)
    closed = {}
    sent = 0
    rss_peak = C.rss_kib(pid)
    end = t_idle_seen + IDLE + LATE + 2
    next_byte = time.monotonic()
    while len(closed) < len(opened) and time.monotonic() < end:
        now = time.monotonic()
        if now >= next_byte:  # one more byte of each slow request, a byte a second
            for s, rest in loris + bodies:
                if s not in closed and sent < len(rest):
                    try:
                        s.send(rest[sent:sent + 1])
                    except OSError:
                        pass
            sent += 1
            next_byte += 1.0
            rss_peak = max(rss_peak, C.rss_kib(pid))
        for key, _ in sel.select(timeout=0.05):
            if C.closed_by_server(key.fileobj):
                closed[key.fileobj] = time.monotonic()
                sel.unregister(key.fileobj)
    hostile = C.finish_clients(clients)
    for s in opened:
        s.close()
    # The machine's own load changes: the baseline again, after.
    again = C.finish_clients(C.start_clients(d, USER, secret, conns=4, seconds=4))
    assert again["failed"] == 0, again["errors"]
    p99_base = max(p99_base, C.percentile(again["latencies"], 0.99))

    p99 = C.percentile(hostile["latencies"], 0.99)
    bound = max(0.100, 3 * p99_base)
    after, late = {}, {}
    for s, (kind, first, last) in opened.items():
        after.setdefault(kind, []).append(closed[s] - first if s in closed else None)
        late.setdefault(kind, []).append(closed[s] - last if s in closed else None)
    s = C.metrics(d)
    print("\nopened %d idle connections in %.2f s, all accepted after %.2f s"
          % (N_IDLE, t_idle - t0, t_idle_seen - t0))
    print("tokens: p99 %.1f ms with the hostile load (%d requests), %.1f ms without (%d); "
          "bound %.0f ms, margin %.1f ms"
          % (p99 * 1000, len(hostile["latencies"]), p99_base * 1000,
             len(base["latencies"]) + len(again["latencies"]),
             bound * 1000, (bound - p99) * 1000))
    for kind, deadline in (("idle", IDLE), ("headers", HEADERS), ("body", BODY)):
        got = [x for x in after[kind] if x is not None]
        print("%-7s deadline %d s: %d of %d closed, after %.2f .. %.2f s"
              % (kind, deadline, len(got), len(after[kind]), min(got, default=-1),
                 max(got, default=-1)))
    print("RSS %d KiB before, %d KiB at the peak: +%.1f KiB per connection"
          % (rss0, rss_peak, (rss_peak - rss0) / (N_IDLE + 2 * N_SLOW)))

    assert hostile["failed"] == 0, hostile["errors"]
    assert p99 < bound, "p99 %.1f ms, bound %.1f ms" % (p99 * 1000, bound * 1000)
    for kind, deadline in (("idle", IDLE), ("headers", HEADERS), ("body", BODY)):
        # Not before the deadline (a byte a second did not reset it, and no other
        # deadline closed it), not much after it.
        assert None not in after[kind], "%s: some never closed" % kind
        assert min(after[kind]) >= deadline - 0.5, (kind, min(after[kind]))
        assert max(late[kind]) <= deadline + LATE, (kind, max(late[kind]))
    # Each by its own deadline (the clients that behave never idled that long).
    assert C.metric(s, "dockhand_connections_closed_total", reason="idle_timeout") == N_IDLE
    assert C.metric(s, "dockhand_connections_closed_total", reason="header_timeout") == N_SLOW
    assert C.metric(s, "dockhand_connections_closed_total", reason="body_timeout") == N_SLOW
    # 2.5 KiB a connection here (22 KiB with ASan's redzones and quarantine): a bound both
    # builds keep, far below what buffering a request per connection would take.
    per_conn = (rss_peak - rss0) / (N_IDLE + 2 * N_SLOW)
    assert per_conn < 48, "RSS grew by %.1f KiB a connection" % per_conn
