-- wrk: POST a fixed JSON body (BODY) with an API key (KEY), each connection waiting DELAY_MS
-- between requests: a light probe of latency while something else loads the server.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("KEY") or "")
wrk.body = os.getenv("BODY")
local pause = tonumber(os.getenv("DELAY_MS") or "5")

function delay()
  return pause
end

function done(summary, latency, requests)
  io.write(string.format("non-2xx or errors: %d\n", summary.errors.status + summary.errors.connect
    + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
