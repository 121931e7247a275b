-- wrk script for bench-intake.sh: every request is a different webhook
-- signed in advance by the npm svix package (file in $RGS_BENCH_REQS);
-- counts answers by status per thread and prints "statuses 200=N ..." at
-- the end.
local reqs = {}
local threads = {}
local nthreads = 0

function setup(thread)
  nthreads = nthreads + 1
  thread:set("tid", nthreads - 1)
  table.insert(threads, thread)
end

function init(args)
  nth = tonumber(os.getenv("RGS_BENCH_THREADS"))
  -- this thread's share of the signed requests (every nth line), kept raw:
  -- formatting them all up front would delay the start of the thread
  local f = assert(io.open(os.getenv("RGS_BENCH_REQS"), "r"))
  local i = 0
  for line in f:lines() do
    if i % nth == tid then reqs[#reqs + 1] = line end
    i = i + 1
  end
  f:close()
  idx = 1
  counts = {}
end

-- paced runs: each connection waits RGS_BENCH_DELAY_MS after every answer,
-- so the offered load is about connections * 1000 / delay requests per second
-- (latency is then measured at that rate, not at saturation)
local pace_ms = tonumber(os.getenv("RGS_BENCH_DELAY_MS") or "0") or 0
function delay()
  return pace_ms
end

function request()
  local line = reqs[idx]
  idx = idx + 1
  if idx > #reqs then idx = 1 end -- wraps: resends, answered 200 but not spooled again
  local id, ts, sig, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
  return wrk.format("POST", "/webhooks", {
    ["Host"] = "127.0.0.1",
    ["Content-Type"] = "application/json",
    ["svix-id"] = id, ["svix-timestamp"] = ts, ["svix-signature"] = sig,
  }, body)
end

function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    local c = t:get("counts")
    for k, v in pairs(c) do total[k] = (total[k] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(total) do parts[#parts + 1] = k .. "=" .. v end
  table.sort(parts)
  io.write("statuses " .. table.concat(parts, " ") .. "\n")
  io.write(string.format("latency_us p50=%d p90=%d p99=%d max=%d\n",
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
  io.write(string.format("requests %d duration_us %d errors_connect %d read %d write %d timeout %d status %d\n",
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout, summary.errors.status))
end
