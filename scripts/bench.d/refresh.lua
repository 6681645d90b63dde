-- wrk: refresh many sessions, each token used by one request at a time: a request takes a
-- token from the thread's pool and its response puts the successor back. (Racing refreshes of
-- one token are the conformance suite's business; here we measure the rotation path.)
local tokens_file = os.getenv("TOKENS")
local per_thread = tonumber(os.getenv("PER_THREAD") or "64")
local counter = 0
local threads = {}

function setup(thread)
  counter = counter + 1
  thread:set("index", counter)
  table.insert(threads, thread)
end

function init(args)
  pool = {}
  failures = 0
  local i, first = 0, (index - 1) * per_thread
  for line in io.lines(tokens_file) do
    if i >= first and i < first + per_thread then table.insert(pool, line) end
    i = i + 1
  end
  auth = "Bearer " .. os.getenv("KEY")
end

function request()
  local token = table.remove(pool, 1) or "tsr_pool_exhausted"
  return wrk.format("POST", "/v1/sessions/refresh", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = auth,
  }, '{"refresh_token":"' .. token .. '"}')
end

function response(status, headers, body)
  local next = status == 200 and string.match(body, '"refresh_token":"([^"]+)"')
  if next then table.insert(pool, next) else failures = failures + 1 end
end

function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + t:get("failures") end
  io.write(string.format("failed refreshes: %d\n", total))
end
