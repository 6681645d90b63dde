-- wrk: POST /v1/sessions with an API key (KEY), each request for a user of its own, so the
-- per-user sign-in limit and session cap never decide, each with the device DEVICE (a JSON
-- member, as scripts/bench sets it); counts what was not created.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("KEY") or "")
local device = os.getenv("DEVICE")
local n = 0
local thread_id = 0

function setup(thread)
  thread:set("thread_id", thread_id)
  thread_id = thread_id + 1
end

function request()
  n = n + 1
  local body = string.format('{"user_id":"bench-%d-%d","claims":{"role":"admin"}%s}', thread_id, n,
    device and "," .. device or "")
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  io.write(string.format("non-2xx or errors: %d\n", summary.errors.status + summary.errors.connect
    + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
