-- ARGV: user now. The live sessions, oldest first, each as {id, record, agent}.
local out, kept = {}, {}
local user, now = ARGV[1], tonumber(ARGV[2])
local u = user_of(user)
local ids = ids_of(u.sessions)
for _, id in ipairs(ids) do
  local s, rec = load(id)
  if s then
    table.insert(kept, id)
    if live(s, now) then
      local row = readable(s, rec)
      table.insert(row, 1, id)
      table.insert(out, row)
    end
  end
end
if #kept < #ids then -- some are gone: tidy the index
  u.sessions = table.concat(kept)
  set_user(user, u)
end
return out
