-- wrk script for bench/ledger/run.py: POST /api/v1/purchases, each request with a new
-- Idempotency-Key, for a random customer of the pool (one card code a line in a file).
--   wrk -t2 -c8 -d30s -s purchases.lua http://127.0.0.1:PORT -- TOKEN RUN POOL_FILE
-- The last line it prints is one JSON object: requests, ok (201), failed, p50/p99 in µs.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

function init(args)
  token, run = args[1], args[2]
  pool = {}
  for line in io.lines(args[3]) do
    pool[#pool + 1] = line
  end
  math.randomseed(id * 7919)
  counter, ok, failed = 0, 0, 0
end

function request()
  counter = counter + 1
  local body = '{"customer": "' .. pool[math.random(#pool)] .. '", "lines": ['
    .. '{"sku": "CAP", "unit_price": "3.40", "quantity": 2}, {"sku": "CRO", "unit_price": "2.40"}]}'
  return wrk.format("POST", "/api/v1/purchases", {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = "wrk:" .. run .. ":" .. id .. ":" .. counter,
  }, body)
end

function response(status, headers, body)
  if status == 201 then ok = ok + 1 else failed = failed + 1 end
end

function done(summary, latency, requests)
  local total_ok, total_failed = 0, 0
  for _, thread in ipairs(threads) do
    total_ok = total_ok + thread:get("ok")
    total_failed = total_failed + thread:get("failed")
  end
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "ok": %d, "failed": %d, "p50_us": %d, "p99_us": %d, '
      .. '"socket_errors": %d}\n',
    summary.requests, summary.duration, total_ok, total_failed,
    latency:percentile(50), latency:percentile(99),
    errors.connect + errors.read + errors.write + errors.timeout))
end
