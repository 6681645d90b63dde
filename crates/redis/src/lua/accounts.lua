-- Accounts and API keys, by ARGV[1]:
--   create_user id login password created -> 1 / 0 login taken
--   find_user login fresh_id        -> {id, password, created} or nil; an account kept under
--                                      its name before account ids existed moves to fresh_id
--   get_user id                     -> {login, password, created} or nil
--   set_password id password        -> 1 / 0 unknown
--   list_users after limit          -> {login, id, password, created, ...} after `after` in
--                                      login order, or 'unindexed' until index_logins is done
--   index_logins cursor             -> the next cursor ('0': done): adds the login names of
--                                      accounts made before the `logins` index to it
--   delete_user id                  -> 1 / 0 unknown; frees the login name in the same step
--   create_key name packed          -> 1 / 0 name taken   (packed: scope|hash|created|)
--   revoke_key name until           -> the key's hash, or nil; feeds kind 2 in the same step
--   key_used name hash at           -> nothing; last use only moves forward
local op = ARGV[1]
local function legacy(login) return k('user', login) end
if op == 'create_user' then
  local login = ARGV[3]
  if redis.call('EXISTS', k('login', login)) == 1 or redis.call('EXISTS', legacy(login)) == 1 then
    return 0
  end
  if redis.call('EXISTS', k('acct', ARGV[2])) == 1 then return 0 end
  redis.call('SET', k('login', login), ARGV[2])
  redis.call('HSET', k('acct', ARGV[2]), 'login', login, 'password', ARGV[4], 'created', ARGV[5])
  redis.call('ZADD', k('logins'), 0, login)
  return 1
elseif op == 'find_user' then
  local login = ARGV[2]
  local id = redis.call('GET', k('login', login))
  if not id then
    local old = legacy(login)
    if redis.call('EXISTS', old) == 0 then return nil end
    id = ARGV[3]
    local password, created = unpack(redis.call('HMGET', old, 'password', 'created'))
    redis.call('HSET', k('acct', id), 'login', login, 'password', password, 'created', created)
    redis.call('SET', k('login', login), id)
    redis.call('ZADD', k('logins'), 0, login)
    redis.call('DEL', old)
  end
  local password, created = unpack(redis.call('HMGET', k('acct', id), 'password', 'created'))
  if not password then return nil end
  return {id, password, created}
elseif op == 'get_user' then
  local h = k('acct', ARGV[2])
  if redis.call('EXISTS', h) == 0 then return nil end
  return redis.call('HMGET', h, 'login', 'password', 'created')
elseif op == 'set_password' then
  if redis.call('EXISTS', k('acct', ARGV[2])) == 0 then return 0 end
  redis.call('HSET', k('acct', ARGV[2]), 'password', ARGV[3])
  return 1
elseif op == 'list_users' then
  if redis.call('EXISTS', k('logins', 'indexed')) == 0 then return 'unindexed' end
  local from = ARGV[2] == '' and '-' or ('(' .. ARGV[2])
  local out = {}
  for _, login in ipairs(redis.call('ZRANGE', k('logins'), from, '+', 'BYLEX', 'LIMIT', 0, ARGV[3])) do
    local id = redis.call('GET', k('login', login))
    if id then
      local password, created = unpack(redis.call('HMGET', k('acct', id), 'password', 'created'))
      if password then
        out[#out + 1] = login; out[#out + 1] = id; out[#out + 1] = password; out[#out + 1] = created
      end
    elseif redis.call('EXISTS', legacy(login)) == 1 then
      -- Kept by name before account ids: the caller moves it with find_user.
      out[#out + 1] = login; out[#out + 1] = ''; out[#out + 1] = ''; out[#out + 1] = '0'
    end
  end
  return out
elseif op == 'index_logins' then
  -- Keys by login name: today's (login:NAME) and those kept before account ids (user:NAME).
  local cursor = ARGV[2]
  local glob = string.gsub(P, '([%*%?%[%]\\])', '\\%1') .. ':*'
  local scan = redis.call('SCAN', cursor, 'MATCH', glob, 'COUNT', 1000)
  for _, key in ipairs(scan[2]) do
    for _, kind in ipairs({'login', 'user'}) do
      local prefix = k(kind, '')
      if string.sub(key, 1, #prefix) == prefix then
        redis.call('ZADD', k('logins'), 0, string.sub(key, #prefix + 1))
      end
    end
  end
  if scan[1] == '0' then redis.call('SET', k('logins', 'indexed'), '1') end
  return scan[1]
elseif op == 'delete_user' then
  local h = k('acct', ARGV[2])
  local login = redis.call('HGET', h, 'login')
  if not login then return 0 end
  redis.call('DEL', h)
  if redis.call('GET', k('login', login)) == ARGV[2] then redis.call('DEL', k('login', login)) end
  redis.call('ZREM', k('logins'), login)
  return 1
elseif op == 'create_key' then
  return redis.call('HSETNX', k('apikeys'), ARGV[2], ARGV[3])
elseif op == 'revoke_key' then
  local packed = redis.call('HGET', k('apikeys'), ARGV[2])
  if not packed then return nil end
  local hash = string.match(packed, '^[^|]*|([^|]*)|')
  redis.call('HDEL', k('apikeys'), ARGV[2])
  feed(2, hash, ARGV[3])
  return hash
elseif op == 'key_used' then
  local packed = redis.call('HGET', k('apikeys'), ARGV[2])
  if not packed then return nil end
  local scope, hash, created, used = string.match(packed, '^([^|]*)|([^|]*)|([^|]*)|([^|]*)$')
  if hash ~= ARGV[3] then return nil end
  if used ~= '' and tonumber(used) >= tonumber(ARGV[4]) then return nil end
  redis.call('HSET', k('apikeys'), ARGV[2], scope .. '|' .. hash .. '|' .. created .. '|' .. ARGV[4])
  return nil
end
return redis.error_reply('unknown operation ' .. op)
