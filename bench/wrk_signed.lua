-- wrk script: replay pre-signed Standard Webhooks deliveries, each with its own webhook-id.
-- Usage: wrk ... -s bench/wrk_signed.lua <url> -- <requests prefix> <path>
-- Thread i reads <prefix>.<i>: one delivery a line, "id<TAB>timestamp<TAB>signature<TAB>body".
-- Signing happens before the run (the signature covers id, timestamp and body, which Lua
-- cannot compute cheaply); the 5-minute timestamp tolerance leaves plenty of time.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("index", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local prefix, path = args[1], args[2]
  requests_list = {}
  for line in io.lines(prefix .. "." .. index) do
    local id, ts, sig, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
    requests_list[#requests_list + 1] = wrk.format("POST", path, {
      ["Content-Type"] = "application/json",
      ["webhook-id"] = id,
      ["webhook-timestamp"] = ts,
      ["webhook-signature"] = sig,
    }, body)
  end
  position = 0
  wrapped = 0
end

function request()
  position = position + 1
  if position > #requests_list then
    position = 1
    wrapped = wrapped + 1 -- ids repeat from here: the server sees duplicates
  end
  return requests_list[position]
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + (thread:get("wrapped") or 0)
  end
  io.write(string.format("WRAPPED %d\n", total))
end
