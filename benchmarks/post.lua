-- wrk script: POST one JSON body, read from the file given after "--", on every request.
--   wrk -t1 -c50 -d10s --latency -s benchmarks/post.lua http://127.0.0.1:8000/incoming -- body.json
-- The request is built once per thread (wrk.init formats it after init), so wrk's fast path stays.

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

function init(args)
   local path = args[1]
   if path == nil then
      error("post.lua: give the body's file after '--'")
   end
   local file = assert(io.open(path, "rb"))
   wrk.body = file:read("*a")
   file:close()
end
