-- wrk script: POST one JSON body, read from the file given after "--", on every request, signed
-- with the Jambonz-Signature header value given after it (optional: unsigned without it).
--   wrk -t1 -c32 -d6s --latency -s benchmarks/post.lua http://127.0.0.1:8000/incoming -- body.json 't=...,v1=...'
-- wrk's Lua has no HMAC, so load.py computes the header just before each wrk run; its timestamp
-- stays valid for 300 s, far longer than a run.
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
   local signature = args[2]
   if signature ~= nil then
      if not signature:match("^t=%d+,v1=%x+$") then
         error("post.lua: the signature must read t=<unix seconds>,v1=<hex>, not " .. signature)
      end
      wrk.headers["Jambonz-Signature"] = signature
   end
end
