-- wrk script: whole newborn cases over the JSON API, one case at a time per connection.
--
-- bench/newborn.py prepends a prelude that defines START_BODY (the JSON body of POST /api/v1/cases),
-- TASK_BODIES (bpmn id -> JSON body of the completion), TOKENS (candidate group -> bearer token; the
-- key "" is the window clerk) and OUTCOME. Run it with as many threads as connections (-t N -c N):
-- each thread then owns one connection and walks its case step by step, start -> (claim, complete)
-- for every open task -> the next case. Every answer is checked; an unexpected one counts as an error
-- and the thread starts a new case.

local function decode(text)
  -- A small JSON reader, enough for the API's answers (\u escapes are not decoded: never needed here).
  local pos = 1
  local value

  local function skip()
    pos = text:find("[^ \t\r\n]", pos) or #text + 1
  end

  local function str()
    local parts, i = {}, pos + 1
    while true do
      local j = text:find('["\\]', i)
      if not j then error("unterminated string") end
      parts[#parts + 1] = text:sub(i, j - 1)
      if text:sub(j, j) == '"' then
        pos = j + 1
        return table.concat(parts)
      end
      local e = text:sub(j + 1, j + 1)
      if e == "u" then
        parts[#parts + 1] = "?"
        i = j + 6
      else
        parts[#parts + 1] = ({ b = "\b", f = "\f", n = "\n", r = "\r", t = "\t" })[e] or e
        i = j + 2
      end
    end
  end

  function value()
    skip()
    local c = text:sub(pos, pos)
    if c == "{" then
      local object = {}
      pos = pos + 1
      skip()
      if text:sub(pos, pos) == "}" then
        pos = pos + 1
        return object
      end
      while true do
        skip()
        local key = str()
        skip()
        pos = pos + 1 -- ':'
        object[key] = value()
        skip()
        local d = text:sub(pos, pos)
        pos = pos + 1
        if d == "}" then return object end
        if d ~= "," then error("bad object at " .. pos) end
      end
    elseif c == "[" then
      local array, n = {}, 0
      pos = pos + 1
      skip()
      if text:sub(pos, pos) == "]" then
        pos = pos + 1
        return array
      end
      while true do
        n = n + 1
        array[n] = value()
        skip()
        local d = text:sub(pos, pos)
        pos = pos + 1
        if d == "]" then return array end
        if d ~= "," then error("bad array at " .. pos) end
      end
    elseif c == '"' then
      return str()
    end
    local literal = text:match("^[%w%.%+%-]+", pos)
    if not literal then error("bad value at " .. pos) end
    pos = pos + #literal
    if literal == "true" then return true end
    if literal == "false" then return false end
    if literal == "null" then return nil end
    return tonumber(literal)
  end

  return value()
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  cases, errors, requests = 0, 0, 0
  last_error = ""
  step, task, token = "start", nil, nil
end

local function headers(bearer, body)
  local h = { ["Authorization"] = "Bearer " .. bearer, ["Accept"] = "application/json" }
  if body then
    h["Content-Type"] = "application/json"
  else
    h["Content-Length"] = "0"
  end
  return h
end

function request()
  requests = requests + 1
  if step == "start" then
    return wrk.format("POST", "/api/v1/cases", headers(TOKENS[""], START_BODY), START_BODY)
  elseif step == "claim" then
    return wrk.format("POST", "/api/v1/tasks/" .. task.id .. "/claim", headers(token))
  end
  local body = TASK_BODIES[task.bpmn_id]
  return wrk.format("POST", "/api/v1/tasks/" .. task.id .. "/complete", headers(token, body), body)
end

local function fail(message)
  errors = errors + 1
  last_error = message
  step = "start"
end

-- The next open task of the case in ``body``, or the end of the case.
local function next_task(body)
  local ok, case = pcall(decode, body)
  if not ok or type(case) ~= "table" then return fail("unreadable case: " .. tostring(case)) end
  for _, t in ipairs(case.tasks or {}) do
    if t.state == "open" then
      task = t
      local groups = t.groups or {}
      token = TOKENS[groups[1] or ""]
      if not token then return fail("no user for group " .. tostring(groups[1])) end
      step = "claim"
      return
    end
  end
  if case.status == "completed" and case.outcome == OUTCOME then
    cases = cases + 1
    step = "start"
  else
    fail("case " .. tostring(case.id) .. " ended " .. tostring(case.status) .. "/" .. tostring(case.outcome))
  end
end

function response(status, headers, body)
  if step == "start" then
    if status ~= 201 then return fail("start: " .. status .. " " .. body:sub(1, 200)) end
    next_task(body)
  elseif step == "claim" then
    if status ~= 200 then return fail("claim " .. task.bpmn_id .. ": " .. status .. " " .. body:sub(1, 200)) end
    step = "complete"
  else
    if status ~= 200 then return fail("complete " .. task.bpmn_id .. ": " .. status .. " " .. body:sub(1, 200)) end
    next_task(body)
  end
end

function done(summary, latency, _)
  local c, e, r, message = 0, 0, 0, ""
  for _, thread in ipairs(threads) do
    c = c + thread:get("cases")
    e = e + thread:get("errors")
    r = r + thread:get("requests")
    local m = thread:get("last_error")
    if m ~= "" then message = m end
  end
  local s = summary.errors
  io.write(string.format("RESULT cases=%d errors=%d requests=%d socket_errors=%d seconds=%f p50_ms=%f p95_ms=%f\n",
    c, e, r, s.connect + s.read + s.write + s.timeout, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000))
  if message ~= "" then io.write("LAST_ERROR " .. message:gsub("\n", " ") .. "\n") end
end
