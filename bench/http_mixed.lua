-- wrk script of bench/http_mixed.py and bench/soak.py: a mixed read/write CRM workload.
--
-- BENCH_DATA names a Lua file (written by http_mixed.py) returning the seeded users: each
-- with an API token, a session cookie and ids of records that user may see. Users are split
-- between wrk threads, and a user's opportunities are only edited by that user, so no two
-- connections ever edit one opportunity at once: an update is a GET (which gives the
-- version) then a PATCH with If-Match, and no update of this workload can conflict.
-- BENCH_MODE=floor sends only GET /healthz (the server's floor, no database).

local mode = os.getenv("BENCH_MODE") or "mixed"
-- wrk's -t value (setup runs before all threads exist, so it cannot count them for init).
local thread_count = tonumber(os.getenv("BENCH_THREADS") or "1")
local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
  thread:set("thread_index", #threads)
end

-- Cumulative weights of the request kinds (out of 100).
local MIX = {
  {40, "contacts"},   -- API list of contacts: filtered by owner or a name fragment, sorted
  {58, "contact"},    -- contact detail
  {70, "search"},     -- global search
  {80, "timeline"},   -- an account's timeline
  {88, "activity"},   -- create an activity (POST)
  {96, "opportunity"},-- read an opportunity, then update it with If-Match (PATCH)
  {100, "report"},    -- the sales analytics page (HTML, browser session)
}

local users = {}
local counter = 0
-- opportunity id -> {user=, state="idle"|"reading"|"ready"|"writing", version=}
local opps = {}
statuses = {}

function init(args)
  math.randomseed(os.time() + thread_index * 7919)
  if mode == "floor" then return end
  local data = dofile(os.getenv("BENCH_DATA"))
  for index, user in ipairs(data.users) do
    if (index - 1) % thread_count + 1 == thread_index then
      users[#users + 1] = user
      user.ready = {}
      for _, id in ipairs(user.opportunities) do
        opps[id] = {state = "idle", user = user}
      end
    end
  end
  if #users == 0 then error("more wrk threads than seeded users, or BENCH_THREADS unset") end
end

local function pick(list)
  return list[math.random(1, #list)]
end

local function bearer(user, extra)
  local headers = extra or {}
  headers["Authorization"] = "Bearer " .. user.token
  return headers
end

local function opportunity_request(user)
  -- An opportunity this user has read: update it with the version that read returned.
  while #user.ready > 0 do
    local id = table.remove(user.ready)
    local opp = opps[id]
    if opp.state == "ready" then
      opp.state = "writing"
      counter = counter + 1
      local body = string.format('{"next_step": "Call back (%d-%d)"}', thread_index, counter)
      return wrk.format("PATCH", "/api/v1/opportunities/" .. id,
        bearer(user, {["Content-Type"] = "application/json",
                      ["If-Match"] = string.format('"%d-%d"', id, opp.version)}), body)
    end
  end
  -- Else read one that nobody is working on (a few tries; all busy: read a contact).
  for _ = 1, 5 do
    local id = pick(user.opportunities)
    if opps[id].state == "idle" then
      opps[id].state = "reading"
      return wrk.format("GET", "/api/v1/opportunities/" .. id, bearer(user))
    end
  end
  return wrk.format("GET", "/api/v1/contacts/" .. pick(user.contacts), bearer(user))
end

function request()
  if mode == "floor" then
    return wrk.format("GET", "/healthz")
  end
  local user = pick(users)
  local roll = math.random(1, 100)
  local kind
  for _, entry in ipairs(MIX) do
    if roll <= entry[1] then kind = entry[2]; break end
  end
  if kind == "contacts" then
    if math.random(1, 2) == 1 then
      return wrk.format("GET", string.format("/api/v1/contacts?owner=%d&sort=name&limit=50",
        pick(user.owners)), bearer(user))
    end
    return wrk.format("GET", "/api/v1/contacts?sort=-name&limit=50&q=" .. pick(user.names),
      bearer(user))
  elseif kind == "contact" then
    return wrk.format("GET", "/api/v1/contacts/" .. pick(user.contacts), bearer(user))
  elseif kind == "search" then
    return wrk.format("GET", "/api/v1/search/?q=" .. pick(user.queries), bearer(user))
  elseif kind == "timeline" then
    return wrk.format("GET", "/api/v1/timeline/contacts.account/" .. pick(user.accounts),
      bearer(user))
  elseif kind == "activity" then
    counter = counter + 1
    local body = string.format(
      '{"kind": "call", "subject": "Bench call %d-%d", "direction": "outbound", ' ..
      '"duration_seconds": %d, "links": [{"object_type": "contacts.account", "id": %d}]}',
      thread_index, counter, math.random(30, 900), pick(user.accounts))
    return wrk.format("POST", "/api/v1/activities",
      bearer(user, {["Content-Type"] = "application/json"}), body)
  elseif kind == "opportunity" then
    return opportunity_request(user)
  end
  return wrk.format("GET", "/analytics/sales/", {["Cookie"] = user.cookie})
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if mode == "floor" or status ~= 200 then return end
  -- Opportunity answers start with their id and version (Ninja keeps the schema's order).
  local id, version = string.match(body:sub(1, 60), '^{"id": (%d+), "version": (%d+), ')
  if id == nil then return end
  id = tonumber(id)
  local opp = opps[id]
  if opp == nil or not body:find('"forecast_category"', 1, true) then return end
  if opp.state == "reading" then
    opp.state = "ready"
    opp.version = tonumber(version)
    opp.user.ready[#opp.user.ready + 1] = id
  elseif opp.state == "writing" then
    opp.state = "idle"
  end
end

function done(summary, latency, requests)
  local merged = {}
  for _, thread in ipairs(threads) do
    for code, n in pairs(thread:get("statuses") or {}) do
      merged[code] = (merged[code] or 0) + n
    end
  end
  local parts = {}
  for code, n in pairs(merged) do parts[#parts + 1] = string.format("%s:%d", code, n) end
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %.0f %.0f %.0f %s\n",
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    table.concat(parts, ",")))
end
