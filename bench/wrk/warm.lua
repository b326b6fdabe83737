-- wrk script for the warm rows: rotates through a list of token requests.
-- Arguments (after --): FILE NTHREADS. FILE holds "<path>\t<Authorization value>" per
-- line; thread t of NTHREADS takes lines t, t+N, t+2N, … and sends them in turn, for
-- as long as wrk runs. done() prints one line "BENCH_JSON {…}" for bench/run.

local threads = {}

function setup(thread)
    thread:set("tid", #threads)
    table.insert(threads, thread)
end

function init(args)
    local nthreads = tonumber(args[2])
    reqs = {}
    local i = 0
    for line in io.lines(args[1]) do
        if i % nthreads == tid then
            local path, auth = line:match("^([^\t]+)\t(.+)$")
            reqs[#reqs + 1] = wrk.format("GET", path, { Authorization = auth })
        end
        i = i + 1
    end
    if #reqs == 0 then
        error("no requests for thread " .. tid .. " in " .. args[1])
    end
    nxt = 1
end

function request()
    local r = reqs[nxt]
    nxt = nxt + 1
    if nxt > #reqs then
        nxt = 1
    end
    return r
end

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        'BENCH_JSON {"requests": %d, "duration_us": %d, "connect_errors": %d, ' ..
        '"read_errors": %d, "write_errors": %d, "status_errors": %d, "timeouts": %d, ' ..
        '"p50_us": %d, "p99_us": %d, "p999_us": %d, "max_us": %d, "mean_us": %.1f}\n',
        summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
        latency:percentile(50), latency:percentile(99), latency:percentile(99.9),
        latency.max, latency.mean))
end
