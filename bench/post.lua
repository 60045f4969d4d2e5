-- post.lua - wrk script for `make bench`: the signed POST of
-- examples/payment.json, and a summary line bench/run reads.
--
-- bench/run passes the body and its signature in the environment
-- (BENCH_BODY, BENCH_SIGNATURE): the hex HMAC-SHA256 of the body under
-- PAYMENT_SECRET, as the X-Signature header carries it.

wrk.method = "POST"
wrk.path = "/hooks/payment"
wrk.body = os.getenv("BENCH_BODY") or '{"id":"evt_1","amount":4200}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Signature"] = os.getenv("BENCH_SIGNATURE") or ""

-- One machine-readable line: requests/s, latency percentiles in
-- microseconds, and the errors (non-2xx answers count as errors: every
-- request is validly signed, so anything but 200 is a fault).
function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "BENCH rps=%.1f p50_us=%d p99_us=%d requests=%d errors=%d non2xx=%d\n",
      summary.requests / (summary.duration / 1e6),
      latency:percentile(50), latency:percentile(99),
      summary.requests,
      e.connect + e.read + e.write + e.timeout, e.status))
end
