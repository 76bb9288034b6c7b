-- wrk script of benchmarks/soak.py: POST signed call hooks, rotating over the request files given after "--".
--   wrk -t2 -c200 -d30s --latency -s benchmarks/soak.lua http://127.0.0.1:8000/incoming -- req1 req2 ...
-- Each file holds header lines ("Name: value"), an empty line, then the body: soak.py signs them
-- (wrk's Lua has no HMAC). Requests are formatted once per thread in init, so request() only picks one.
-- done() prints one line "SOAK-RESULT {json}" with exact counts and latencies for soak.py to read.

wrk.method = "POST"

local prepared = {}
local count = 0
local sent = 0

local function load(path)
   local file = assert(io.open(path, "rb"))
   local data = file:read("*a")
   file:close()
   local head, body = data:match("^(.-)\n\n(.*)$")
   if head == nil then
      error("soak.lua: " .. path .. " has no empty line between the headers and the body")
   end
   -- wrk.format adds Host only without the port; take the one wrk.init built from the URL.
   local headers = { ["Host"] = wrk.headers["Host"] }
   for line in head:gmatch("[^\n]+") do
      local name, value = line:match("^([^:]+):%s*(.*)$")
      if name == nil then
         error("soak.lua: bad header line in " .. path .. ": " .. line)
      end
      headers[name] = value
   end
   return wrk.format("POST", nil, headers, body)
end

function init(args)
   for _, path in ipairs(args) do
      count = count + 1
      prepared[count] = load(path)
   end
   if count == 0 then
      error("soak.lua: give the request files after '--'")
   end
end

function request()
   sent = sent + 1
   return prepared[(sent % count) + 1]
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'SOAK-RESULT {"requests":%d,"duration_us":%d,"bytes":%d,'
         .. '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,'
         .. '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max
   ))
end
