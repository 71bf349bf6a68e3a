-- wrk script for bench/bench_intake.py: POST /api/v1/requests with a random point inside the city
-- and a unique Idempotency-Key, recording every acknowledged (2xx) submit for the row count.
--
--   BENCH_TOKEN=clk_... wrk -s bench/intake.lua URL -- POINTS_FILE OUT_PREFIX RUN_TAG
--
-- POINTS_FILE holds "lon lat" lines; each thread writes OUT_PREFIX.RUN_TAG.<thread>.acked with
-- "status tracking_no key" per response, so a submit acknowledged but missing from the database
-- (lost) or stored twice (duplicated) is found by comparing with the rows afterwards.

local next_tid = 0

function setup(thread)
  next_tid = next_tid + 1
  thread:set("tid", next_tid)
end

local points, out, run, counter, token = {}, nil, "run", 0, ""

function init(args)
  for line in io.lines(args[1]) do
    local lon, lat = line:match("^(%S+) (%S+)$")
    if lon then points[#points + 1] = { lon, lat } end
  end
  run = args[3]
  out = io.open(string.format("%s.%s.%d.acked", args[2], run, tid), "w")
  out:setvbuf("line")
  token = os.getenv("BENCH_TOKEN") or ""
  math.randomseed(tid * 7919 + os.time())
end

function request()
  counter = counter + 1
  local key = string.format("%s-%d-%d", run, tid, counter)
  local p = points[math.random(#points)]
  local body = string.format(
    '{"description":"路灯不亮，晚上很黑（%s）","caller_phone":"13800001234","lon":%s,"lat":%s,"attributes":{"k":"%s"}}',
    key, p[1], p[2], key)
  return wrk.format("POST", "/api/v1/requests", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
    ["Idempotency-Key"] = key,
  }, body)
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    local no = body:match('"tracking_no":%s*"([^"]+)"') or "?"
    local key = body:match('"k":%s*"([^"]+)"') or "?"
    out:write(status, " ", no, " ", key, "\n")
  else
    out:write(status, " - -\n")
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
