-- wrk script for the cold rows: every credential of FILE is sent exactly once.
-- Arguments (after --): FILE. Run with one thread (-t1) and any number of connections.
-- When the list is used up, idle connections get a cheap filler (GET /keys/jwks.json,
-- not counted); when the last token answer is in, the script interrupts wrk (SIGINT
-- to its own process, which ends wrk's timed run at once). The rate is timed here,
-- from the first request to the last answer (wrk's own duration is its -d).
-- done() prints one line "BENCH_JSON {…}" for bench/run.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk, bench_timespec *ts);
int kill(int pid, int sig);
int getpid(void);
]]

local function now()
    local ts = ffi.new("bench_timespec")
    ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
    return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

local threads = {}

function setup(thread)
    table.insert(threads, thread)
end

function init(args)
    reqs = {}
    for line in io.lines(args[1]) do
        local path, auth = line:match("^([^\t]+)\t(.+)$")
        reqs[#reqs + 1] = wrk.format("GET", path, { Authorization = auth })
    end
    nreqs = #reqs
    filler = wrk.format("GET", "/keys/jwks.json")
    nxt, answered, ok, bad, fillers = 1, 0, 0, 0, 0
    -- wrk calls request() once before the run, to check for pipelining, and throws
    -- the answer away: that call gets the filler, so no credential is lost.
    primed = false
    t_first, t_last = 0, 0
    statuses = {}
end

function request()
    if not primed then
        primed = true
        return filler
    end
    if nxt > #reqs then
        fillers = fillers + 1
        return filler
    end
    if nxt == 1 then
        t_first = now()
    end
    local r = reqs[nxt]
    nxt = nxt + 1
    return r
end

function response(status, headers, body)
    if body and body:sub(1, 8) == '{"keys":' then
        return
    end
    answered = answered + 1
    if status == 200 then
        ok = ok + 1
    else
        bad = bad + 1
        statuses[status] = (statuses[status] or 0) + 1
    end
    t_last = now()
    if answered == nreqs then
        ffi.C.kill(ffi.C.getpid(), 2) -- SIGINT: wrk stops its run
    end
end

function done(summary, latency, requests)
    local t = threads[1]
    local st = t:get("statuses")
    local parts = {}
    for k, v in pairs(st) do
        parts[#parts + 1] = string.format('"%d": %d', k, v)
    end
    local e = summary.errors
    io.write(string.format(
        'BENCH_JSON {"listed": %d, "answered": %d, "ok": %d, "bad": %d, "fillers": %d, ' ..
        '"seconds": %.6f, "connect_errors": %d, "read_errors": %d, "write_errors": %d, ' ..
        '"timeouts": %d, "statuses": {%s}}\n',
        t:get("nreqs"), t:get("answered"), t:get("ok"), t:get("bad"), t:get("fillers"),
        t:get("t_last") - t:get("t_first"), e.connect, e.read, e.write, e.timeout,
        table.concat(parts, ", ")))
end
