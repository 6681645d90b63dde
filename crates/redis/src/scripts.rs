//! The Lua scripts, each with the shared prelude, compiled once.

use std::sync::LazyLock;

use redis::Script;

const PRELUDE: &str = include_str!("lua/prelude.lua");

macro_rules! script {
    ($name:ident, $file:literal) => {
        pub static $name: LazyLock<Script> =
            LazyLock::new(|| Script::new(&format!("{PRELUDE}\n{}", include_str!($file))));
    };
}

script!(CREATE, "lua/create.lua");
script!(ROTATE, "lua/rotate.lua");
script!(TOUCH, "lua/touch.lua");
script!(UPDATE, "lua/update.lua");
script!(REVOKE, "lua/revoke.lua");
script!(REVOKE_USER, "lua/revoke_user.lua");
script!(REVOKE_TOKEN, "lua/revoke_token.lua");
script!(LIST_USER, "lua/list_user.lua");
script!(PURGE, "lua/purge.lua");
script!(RATE_LIMIT, "lua/rate_limit.lua");
script!(AUDIT, "lua/audit.lua");
script!(AUDIT_FOR_USER, "lua/audit_for_user.lua");
script!(PURGE_AUDIT, "lua/purge_audit.lua");
script!(MISC, "lua/misc.lua");
script!(ACCOUNTS, "lua/accounts.lua");
script!(ADOPT, "lua/adopt.lua");
script!(GET, "lua/get.lua");
script!(COUNT, "lua/count.lua");

/// Whether `script` changes what must survive a failover: all but rate limits (a lost charge
/// forgives a few requests) and reads.
pub(crate) fn writes(script: &Script) -> bool {
    ![&*RATE_LIMIT, &*LIST_USER, &*AUDIT_FOR_USER, &*GET, &*COUNT]
        .iter()
        .any(|read| read.get_hash() == script.get_hash())
}
