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
  local f = assert(io.open(os.getenv("RGS_BENCH_REQS"), "r"))
  for line in f:lines() do
    local id, ts, sig, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
    reqs[#reqs + 1] = wrk.format("POST", "/webhooks", {
      ["Host"] = "127.0.0.1",
      ["Content-Type"] = "application/json",
      ["svix-id"] = id, ["svix-timestamp"] = ts, ["svix-signature"] = sig,
    }, body)
  end
  f:close()
  nth = tonumber(os.getenv("RGS_BENCH_THREADS"))
  idx = tid + 1
  counts = {}
end

function request()
  local r = reqs[idx]
  idx = idx + nth
  if idx > #reqs then idx = tid + 1 end -- wraps: replays then answer 409
  return r
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
