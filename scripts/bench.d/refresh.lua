-- wrk: keep refreshing one session per thread, always with the newest refresh token. Requests
-- of one thread's connections may race with the same token: that is the two-tabs case, which
-- must succeed (both get the same successor), so it is part of what is measured.
local tokens_file = os.getenv("TOKENS")
local counter = 0
local threads = {}

function setup(thread)
  counter = counter + 1
  thread:set("index", counter)
  table.insert(threads, thread)
end

function init(args)
  local i = 0
  for line in io.lines(tokens_file) do
    i = i + 1
    if i == index then token = line end
  end
  failures = 0
end

function request()
  return wrk.format("POST", "/v1/sessions/refresh", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. os.getenv("KEY"),
  }, '{"refresh_token":"' .. token .. '"}')
end

function response(status, headers, body)
  if status == 200 then
    local next = string.match(body, '"refresh_token":"([^"]+)"')
    if next then token = next end
  else
    failures = failures + 1
  end
end

function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + t:get("failures") end
  io.write(string.format("failed refreshes: %d\n", total))
end
