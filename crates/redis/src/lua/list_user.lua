-- ARGV: user now. The live sessions, oldest first, each as {sid, record, agent}.
local out, kept = {}, {}
local user, now = ARGV[1], tonumber(ARGV[2])
local sids = sessions_of(user)
for _, sid in ipairs(sids) do
  local s, rec = load(sid)
  if s then
    table.insert(kept, sid)
    if live(s, now) then
      local row = readable(s, rec)
      table.insert(row, 1, sid)
      table.insert(out, row)
    end
  end
end
if #kept < #sids then set_sessions(user, kept) end -- some are gone: tidy the index
return out
