-- wrk: sign in to the JSON sign-in route over and over with the right password (USER,
-- PASSWORD); every answer but 200 counts as a failure.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = string.format('{"user":"%s","password":"%s"}', os.getenv("USER_NAME"), os.getenv("PASSWORD"))
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  failures = 0
end

function response(status, headers, body)
  if status ~= 200 then failures = failures + 1 end
end

function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + t:get("failures") end
  io.write(string.format("failed sign-ins: %d\n", total))
end
