-- wrk script: the same signed GitHub pull_request.opened delivery for every request,
-- each with its own X-GitHub-Delivery (the signature covers only the body), so
-- TaskBridge stores every request as a new event instead of answering "duplicate".
-- BENCH_BODY and BENCH_SIGNATURE come from the environment (scripts/bench.sh).
local body_file = os.getenv("BENCH_BODY")
local f = assert(io.open(body_file, "rb"))
local payload = f:read("*a")
f:close()
local signature = os.getenv("BENCH_SIGNATURE")
local counter = 0
local thread_tag = ""

function setup(thread)
  thread:set("tag", tostring(math.random(1, 1e9)))
end

function init(args)
  thread_tag = tag or tostring(math.random(1, 1e9))
end

function request()
  counter = counter + 1
  local headers = {}
  headers["Content-Type"] = "application/json"
  headers["X-GitHub-Event"] = "pull_request"
  headers["X-GitHub-Delivery"] = "wrk-" .. thread_tag .. "-" .. counter
  headers["X-Hub-Signature-256"] = "sha256=" .. signature
  return wrk.format("POST", nil, headers, payload)
end
