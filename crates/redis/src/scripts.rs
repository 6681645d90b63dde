//! The Lua scripts, each with the parts of the shared prelude it uses, compiled once.

use std::collections::HashSet;
use std::sync::LazyLock;

use redis::Script;

const PRELUDE: &str = include_str!("lua/prelude.lua");

/// How long what a session leaves outside its record (its remembered user agent, the pointer
/// to its shard) outlives the session's end: `SLACK` in the scripts.
pub(crate) const SLACK_MS: i64 = 3_600_000;

/// `body` after the prelude's definitions it uses, directly or through another. Redis runs a
/// script's whole text on every call, so each definition left in costs a closure per call
/// (the full prelude was a tenth of a refresh's time in Redis).
fn with_prelude(body: &str) -> String {
    let slack = format!("local SLACK = {SLACK_MS}\n");
    // A definition starts at a `local` in the first column and runs to the next one.
    let mut blocks: Vec<&str> = Vec::new();
    let mut start = 0;
    for (at, _) in PRELUDE.match_indices("\nlocal ") {
        blocks.push(&PRELUDE[start..=at]);
        start = at + 1;
    }
    blocks.push(&PRELUDE[start..]);
    blocks.insert(1, &slack);
    let mut used: HashSet<&str> = identifiers(body).collect();
    let mut taken = vec![false; blocks.len()];
    taken[0] = true; // the prelude's opening comment
    while let Some(i) =
        (0..blocks.len()).find(|&i| !taken[i] && defines(blocks[i]).any(|n| used.contains(n)))
    {
        taken[i] = true;
        used.extend(identifiers(blocks[i]));
    }
    let mut out: String = blocks
        .iter()
        .zip(&taken)
        .filter_map(|(block, taken)| taken.then_some(*block))
        .collect();
    out.push('\n');
    out.push_str(body);
    out
}

/// The names a definition's first line declares: `local function name(` or `local a, b =`.
fn defines(block: &str) -> impl Iterator<Item = &str> {
    let head = block.lines().next().unwrap_or_default();
    let names = match head.strip_prefix("local function ") {
        Some(rest) => rest.split('(').next(),
        None => head
            .strip_prefix("local ")
            .and_then(|rest| rest.split('=').next()),
    };
    names.into_iter().flat_map(|n| n.split(',')).map(str::trim)
}

/// The words of `text`'s code, comments left out (the scripts put no `--` in strings).
fn identifiers(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(|line| line.split("--").next().unwrap_or_default())
        .flat_map(|code| code.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')))
        .filter(|w| !w.is_empty())
}

/// A script as Redis runs it, flagged (`#!lua`: Redis 7's script flags). At `maxmemory`,
/// Redis refuses a script that may write (a flagged one at its start, one without flags at
/// its first write, before it has written anything), but runs one marked `reads`
/// (`no-writes`: Redis refuses any write it would make) and one marked `ends` (`allow-oom`):
/// those that end sessions or free memory (revocations, purges, and listing, which tidies a
/// user's index), which must not wait for room. A flagged script may touch only keys in the
/// slot of those it declares: all of a script's keys are under its tag (see the prelude).
macro_rules! script {
    ($name:ident, $file:literal) => {
        script!($name, $file, "#!lua");
    };
    ($name:ident, $file:literal, reads) => {
        script!($name, $file, "#!lua flags=no-writes");
    };
    ($name:ident, $file:literal, ends) => {
        script!($name, $file, "#!lua flags=allow-oom");
    };
    ($name:ident, $file:literal, $flags:literal) => {
        pub static $name: LazyLock<Script> = LazyLock::new(|| {
            Script::new(&format!(
                "{}\n{}",
                $flags,
                with_prelude(include_str!($file))
            ))
        });
    };
}

script!(CREATE, "lua/create.lua");
script!(ROTATE, "lua/rotate.lua");
script!(TOUCH, "lua/touch.lua");
script!(UPDATE, "lua/update.lua");
script!(REVOKE, "lua/revoke.lua", ends);
script!(REVOKE_USER, "lua/revoke_user.lua", ends);
script!(REVOKE_TOKEN, "lua/revoke_token.lua", ends);
script!(LIST_USER, "lua/list_user.lua", ends);
script!(PURGE, "lua/purge.lua", ends);
script!(RATE_LIMIT, "lua/rate_limit.lua");
script!(AUDIT, "lua/audit.lua");
script!(AUDIT_FOR_USER, "lua/audit_for_user.lua", reads);
script!(PURGE_AUDIT, "lua/purge_audit.lua", ends);
script!(MISC, "lua/misc.lua");
script!(ACCOUNTS, "lua/accounts.lua");
script!(ADOPT, "lua/adopt.lua");
script!(GET, "lua/get.lua", reads);
script!(AGENTS, "lua/agents.lua", reads);
script!(COUNT, "lua/count.lua", reads);

/// Whether `script` changes what must survive a failover: all but rate limits (a lost charge
/// forgives a few requests) and reads.
pub(crate) fn writes(script: &Script) -> bool {
    ![
        &*RATE_LIMIT,
        &*LIST_USER,
        &*AUDIT_FOR_USER,
        &*GET,
        &*AGENTS,
        &*COUNT,
    ]
    .iter()
    .any(|read| read.get_hash() == script.get_hash())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `script` with its prelude carries each of `used` and none of `unused`.
    fn assert_carries(file: &str, used: &[&str], unused: &[&str]) {
        let script = with_prelude(file);
        assert!(script.ends_with(file));
        for part in used {
            assert!(script.contains(part), "{part} missing");
        }
        for part in unused {
            assert!(!script.contains(part), "{part} carried");
        }
    }

    /// Each script carries what it calls and what that calls, and nothing else.
    #[test]
    fn scripts_carry_only_the_prelude_they_use() {
        assert_carries(
            include_str!("lua/rotate.lua"),
            &[
                "function k(",
                "function elsewhere(",
                "function gcra_step(",
                "function int(",
                "function load(",
                "function from_fields(",
            ],
            &[
                "function audit(",
                "function revoke(",
                "function index(",
                "function sessions_of(",
            ],
        );
        assert_carries(
            include_str!("lua/create.lua"),
            &[
                "local SLACK = 3600000",
                "local MINUTE",
                "function revoke(",
                "function feed(",
            ],
            &["function gcra_step(", "function gcra("],
        );
        for reads_users in [
            include_str!("lua/purge_audit.lua"),
            include_str!("lua/audit_for_user.lua"),
        ] {
            assert_carries(
                reads_users,
                &[
                    "function user_of(",
                    "function by_user(",
                    "function unbase64(",
                ],
                &["function load(", "function revoke("],
            );
        }
        assert_carries(
            include_str!("lua/purge_audit.lua"),
            &["function set_user("],
            &[],
        );
    }
}
