//! The command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Tessera: sessions, tokens and revocation, as a server and a CLI.
#[derive(Debug, Parser)]
#[command(name = "tessera", version, about, long_about = None)]
pub struct Cli {
    /// TOML configuration file (also TESSERA_CONFIG). Flags override TESSERA_* variables, which
    /// override the file, which overrides the defaults.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory holding the database and the admin API key [default: ./tessera-data]
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Where sessions live: sqlite://PATH or redis://host:port[/db] [default: sqlite in the data dir]
    #[arg(long, global = true, value_name = "URL")]
    pub store: Option<String>,
    /// Log format [default: human]
    #[arg(long, global = true, value_parser = ["human", "json"])]
    pub log_format: Option<String>,
    /// Log filter, e.g. `info` or `info,tessera=debug` [default: info]
    #[arg(long, global = true, value_name = "FILTER")]
    pub log_level: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server.
    Serve {
        /// Address to listen on [default: 127.0.0.1:8080]
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
    },
    /// Inspect or rotate the signing keys.
    Keys {
        /// What to do with the keys.
        #[command(subcommand)]
        action: KeysAction,
    },
    /// List or revoke sessions.
    Sessions {
        /// What to do with the sessions.
        #[command(subcommand)]
        action: SessionsAction,
    },
    /// Delete expired and revoked sessions now.
    Purge,
    /// Move a Redis deployment written by Tessera before shards (every key under one tag) to
    /// the sharded layout, keeping every session valid. Stop every node first; safe to run again
    /// after an interruption.
    Migrate,
    /// Manage accounts of the built-in sign-in.
    Users {
        /// What to do.
        #[command(subcommand)]
        action: UsersAction,
    },
    /// Create API keys.
    ApiKey {
        /// What to do.
        #[command(subcommand)]
        action: ApiKeyAction,
    },
}

/// `tessera keys …`
#[derive(Debug, Subcommand)]
pub enum KeysAction {
    /// List the keys with their state (next, active, retired).
    List,
    /// Promote the next key now; the old one is retired but still verifies until its tokens expire.
    Rotate,
    /// Take a key out at once, after a suspected compromise: its tokens stop verifying (a
    /// rotation keeps accepting them while the key is retired). An active key is first
    /// replaced by the next. Tokens it signed fail, so their users refresh or sign in again.
    Withdraw {
        /// The key id (see `tessera keys list`).
        kid: String,
    },
    /// Seal every signing key and the server secret under a new key-encryption key. With
    /// `key_encryption_key` set: under that key (list the old one in
    /// `previous_key_encryption_keys` first). On the embedded default: under a fresh key that
    /// replaces `<data-dir>/key-encryption-key`.
    Rewrap,
    /// Print a fresh key-encryption key, for `key_encryption_key`. Nothing is stored.
    NewKek,
    /// Take another system's key into the keyset (moving from hand-rolled JWTs): a PEM private
    /// key (PKCS#8: Ed25519, P-256, RSA) signs from now on, so services that check tokens with
    /// its public key keep accepting Tessera's; a PEM public key is trusted for `--trust-for`,
    /// so tokens the old system issued keep verifying from the JWKS while they live.
    Import {
        /// The PEM file.
        file: std::path::PathBuf,
        /// The key id the old system's tokens carry in their header.
        #[arg(long)]
        kid: String,
        /// For a public key: how long to accept it (the old tokens' longest lifetime, e.g. 1h).
        #[arg(long)]
        trust_for: Option<String>,
    },
}

/// `tessera sessions …`
#[derive(Debug, Subcommand)]
pub enum SessionsAction {
    /// List a user's live sessions.
    List {
        /// The user id.
        #[arg(long)]
        user: String,
    },
    /// Revoke one session (takes effect on a running server within a second).
    Revoke {
        /// The session id.
        sid: String,
    },
}

/// `tessera users …`
#[derive(Debug, Subcommand)]
pub enum UsersAction {
    /// Create an account; the password is read from standard input (first line), never from
    /// the command line. Prints the account's id (what tokens carry in `sub`).
    Create {
        /// The login name (normalized: compatibility forms folded, lower case).
        user: String,
    },
    /// Set an account's password (read from standard input, as for `create`); every session
    /// of the account ends.
    Passwd {
        /// The login name.
        user: String,
    },
    /// Print a one-time link that lets the person set a new password (recovery without
    /// email): it works once, ends at `--valid`, and is stored nowhere. Hand it over by a
    /// channel you trust.
    ResetLink {
        /// The login name.
        user: String,
        /// How long the link works (at most a day).
        #[arg(long, default_value = "1h")]
        valid: String,
    },
    /// List accounts in login-name order: login name, id, created, live sessions.
    List {
        /// Start after this login name (the last one of the previous page).
        #[arg(long)]
        after: Option<String>,
        /// How many to list.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        limit: u32,
    },
    /// Delete an account: every session of it ends at once (on every node), then the account
    /// goes and its name is free. Its audit trail stays until its retention ends.
    Delete {
        /// The login name.
        user: String,
        /// Delete without asking (needed when standard input is not a terminal).
        #[arg(long)]
        yes: bool,
    },
}

/// `tessera api-key …`
#[derive(Debug, Subcommand)]
pub enum ApiKeyAction {
    /// Create a named API key with a scope and print it (once; only its hash is stored).
    Create {
        /// A name for the key: letters, digits, '.', '_', '-' (the client id for HTTP Basic).
        #[arg(long)]
        name: String,
        /// What it may do: `verify` (verify, introspect, revocation feed), `metrics`, `sessions`
        /// (an application backend: every session route, and what `verify` may), `admin`.
        #[arg(long, value_parser = ["verify", "metrics", "sessions", "admin"])]
        scope: String,
    },
    /// List the named keys: name, scope, created, last used (never the keys).
    List,
    /// Revoke a named key; every node stops accepting it at once.
    Revoke {
        /// The key's name.
        name: String,
    },
    /// Print a fresh API key, for TESSERA_ADMIN_API_KEY. Nothing is stored.
    New,
}
