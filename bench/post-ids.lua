-- post-ids.lua - wrk script for the dedupe figures of `make bench`: the
-- signed POST of post.lua, each request with its own X-Event-Id (a
-- delivery id, as GitHub's X-GitHub-Delivery), so that
-- bench/payment-dedupe.json records every answer and replays none.  Both
-- sides of the comparison use this script: they pay the same Lua.

wrk.method = "POST"
wrk.path = "/hooks/payment"
wrk.body = os.getenv("BENCH_BODY") or '{"id":"evt_1","amount":4200}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Signature"] = os.getenv("BENCH_SIGNATURE") or ""

-- A prefix of its own for every wrk run (the warm-up and the measurement
-- share a server): the kernel's random UUID.
local f = io.open("/proc/sys/kernel/random/uuid")
local prefix = f and f:read("*l") or tostring(os.time())
if f then f:close() end
local n = 0

function request()
   n = n + 1
   wrk.headers["X-Event-Id"] = prefix .. "-" .. n
   return wrk.format()
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "BENCH rps=%.1f p50_us=%d p99_us=%d requests=%d errors=%d non2xx=%d\n",
      summary.requests / (summary.duration / 1e6),
      latency:percentile(50), latency:percentile(99),
      summary.requests,
      e.connect + e.read + e.write + e.timeout, e.status))
end
