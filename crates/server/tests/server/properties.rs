//! Property tests of what the server reads from untrusted text: the `Forwarded` /
//! `X-Forwarded-For` / `X-Forwarded-Proto` headers (black-box, through the in-process app) and
//! the configuration loader (`Config::from_toml`).
//!
//! They are the server's half of the project's fuzzing (the core's is `tessera`'s
//! `tests/properties.rs`): a modest number of cases here, many more under `scripts/fuzz`. The
//! server's tests do not depend on proptest, so cases come from the small seeded generator
//! below; it reads the same variables as proptest (`PROPTEST_CASES`, `PROPTEST_RNG_SEED`) plus
//! `TESSERA_FUZZ_SECONDS` (a time budget) and `TESSERA_FUZZ_REPORT` (a file to append the
//! counts to). A failure prints the seed and the input; `PROPTEST_RNG_SEED` replays it.
//!
//! The resolved client is observed through the per-client rate limit: with
//! `admin = { client = "1/h" }` every address gets one request an hour, and every address a
//! case uses is fresh, so after the request under test, a plain request *from* an address is
//! refused (429) exactly when the request under test was counted against it. Probing every
//! address of a case tells which one the server resolved. HTTPS is observed through HSTS.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode};
use tessera_server::Config;
use tessera_server::config::{LimitBy, LimitClass};
use tower::ServiceExt;

use super::support::App;

use fuzz::Rng;

/// Fails the case with a message unless `cond` holds.
macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

/// Fails the case unless both sides are equal.
macro_rules! ensure_eq {
    ($left:expr, $right:expr, $($msg:tt)+) => {{
        let (left, right) = (&$left, &$right);
        if left != right {
            return Err(format!("{:?} != {:?}: {}", left, right, format!($($msg)+)));
        }
    }};
}

/// A seeded generator and the runner of every target.
mod fuzz {
    use std::hash::{BuildHasher, RandomState};
    use std::io::Write;
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use std::time::{Duration, Instant};

    /// SplitMix64: small, fast, and good enough to pick test inputs.
    pub struct Rng(u64);

    impl Rng {
        pub fn new(seed: u64) -> Self {
            Self(seed)
        }

        pub fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        /// A number in `lo..hi` (`lo` when the range is empty).
        pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
            if hi <= lo {
                lo
            } else {
                lo + self.next() % (hi - lo)
            }
        }

        pub fn below(&mut self, n: usize) -> usize {
            self.range(0, n as u64) as usize
        }

        pub fn bool(&mut self) -> bool {
            self.next() & 1 == 1
        }

        /// True with probability `p`.
        pub fn chance(&mut self, p: f64) -> bool {
            ((self.next() >> 11) as f64) / ((1u64 << 53) as f64) < p
        }

        pub fn pick<T: Clone>(&mut self, items: &[T]) -> T {
            items[self.below(items.len())].clone()
        }

        /// An index chosen in proportion to `weights`.
        pub fn weighted(&mut self, weights: &[u64]) -> usize {
            let mut x = self.range(0, weights.iter().sum());
            for (i, w) in weights.iter().enumerate() {
                if x < *w {
                    return i;
                }
                x -= w;
            }
            0
        }

        pub fn vec<T>(
            &mut self,
            lo: usize,
            hi: usize,
            mut f: impl FnMut(&mut Self) -> T,
        ) -> Vec<T> {
            let n = self.range(lo as u64, hi as u64) as usize;
            (0..n).map(|_| f(self)).collect()
        }

        /// Up to `max` characters of `alphabet`.
        pub fn text_of(&mut self, alphabet: &str, lo: usize, hi: usize) -> String {
            let chars: Vec<char> = alphabet.chars().collect();
            self.vec(lo, hi, |g| g.pick(&chars)).into_iter().collect()
        }

        /// Any character: mostly ASCII, some from anywhere in Unicode.
        pub fn char(&mut self) -> char {
            match self.weighted(&[6, 2, 2]) {
                0 => char::from(self.range(0x20, 0x7f) as u8),
                1 => char::from(self.range(0, 0x20) as u8),
                _ => loop {
                    if let Some(c) = char::from_u32(self.range(0x80, 0x11_0000) as u32) {
                        break c;
                    }
                },
            }
        }

        pub fn string(&mut self, lo: usize, hi: usize) -> String {
            self.vec(lo, hi, Self::char).into_iter().collect()
        }

        /// Any `i64`, edges often.
        pub fn i64(&mut self) -> i64 {
            if self.chance(0.2) {
                self.pick(&[0, 1, -1, i64::MIN, i64::MAX, 1024, 4_294_967_296])
            } else {
                self.next() as i64
            }
        }
    }

    /// Runs `test` on `ci_cases` inputs from `generate` (`PROPTEST_CASES` when set), seeded by
    /// `PROPTEST_RNG_SEED` or at random, for at most `TESSERA_FUZZ_SECONDS` when set. Prints one
    /// line (target, cases, executions, seconds, outcome), also appended to
    /// `TESSERA_FUZZ_REPORT` when set, and fails with the seed and the failing input.
    #[allow(
        clippy::disallowed_methods,
        reason = "the fuzzing time budget; no rule under test reads this clock"
    )]
    pub fn run<T: std::fmt::Debug>(
        name: &str,
        ci_cases: u32,
        generate: impl Fn(&mut Rng) -> T,
        test: impl Fn(&T) -> Result<(), String>,
    ) {
        let env = |name: &str| std::env::var(name).ok();
        let cases = env("PROPTEST_CASES")
            .and_then(|c| c.parse().ok())
            .unwrap_or(ci_cases);
        let seed = env("PROPTEST_RNG_SEED")
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| RandomState::new().hash_one(name));
        let budget = env("TESSERA_FUZZ_SECONDS")
            .and_then(|s| s.parse::<f64>().ok())
            .filter(|s| *s > 0.0)
            .map(Duration::from_secs_f64);
        let started = Instant::now();
        let mut seeds = Rng::new(seed);
        let mut passed = 0u32;
        let mut failure = None;
        while passed < cases && budget.is_none_or(|b| started.elapsed() < b) {
            let input = generate(&mut Rng::new(seeds.next()));
            let outcome = catch_unwind(AssertUnwindSafe(|| test(&input)))
                .unwrap_or_else(|_| Err("panicked (see above)".into()));
            if let Err(why) = outcome {
                failure = Some(format!(
                    "case {} of PROPTEST_RNG_SEED={seed}: {why}\ninput: {input:#?}",
                    passed + 1
                ));
                break;
            }
            passed += 1;
        }
        let executions = passed + u32::from(failure.is_some());
        let line = format!(
            "{name}\t{passed}\t{executions}\t{:.1}\t{}",
            started.elapsed().as_secs_f64(),
            if failure.is_some() { "FAILED" } else { "ok" }
        );
        eprintln!("fuzz\t{line}");
        if let Some(path) = env("TESSERA_FUZZ_REPORT") {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path);
            if let Ok(mut file) = file {
                let _ = writeln!(file, "{line}");
            }
        }
        if let Some(failure) = failure {
            panic!("{name}: {failure}");
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The generator and the runner can fail: a false property is reported, not swallowed.
#[test]
fn harness_reports_a_false_property() {
    let failed = std::panic::catch_unwind(|| {
        fuzz::run(
            "harness_self_test",
            64,
            |g| g.range(0, 10),
            |x| {
                ensure!(*x < 5, "{x} is not below 5");
                Ok(())
            },
        );
    });
    let disabled = std::env::var("PROPTEST_CASES").is_ok_and(|c| c == "0");
    assert!(failed.is_err() || disabled);
    let mut g = Rng::new(1);
    let picks: BTreeSet<u64> = (0..200).map(|_| g.range(3, 7)).collect();
    assert_eq!(picks, BTreeSet::from([3, 4, 5, 6]));
}

// ---------------------------------------------------------------------------------------------
// Client resolution: Forwarded / X-Forwarded-For / X-Forwarded-Proto
// ---------------------------------------------------------------------------------------------

const PROXIES: &str = "trusted_proxies = [\"10.0.0.0/8\", \"fd00::/8\"]\n";
/// [`PROXIES`] writing `Forwarded`, and writing `X-Forwarded-For`.
const WRITING_FORWARDED: &str = "forwarded_header = \"forwarded\"\n";
const WRITING_XFF: &str = "forwarded_header = \"x-forwarded-for\"\n";
const ONE_AN_HOUR: &str = "[rate_limits]\nadmin = { client = \"1/h\" }\n";
const ROUTE: &str = "/v1/users/probe/sessions";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Addr {
    Trusted4,
    Trusted6,
    Untrusted4,
    Untrusted6,
}

impl Addr {
    const ALL: [Addr; 4] = [
        Self::Trusted4,
        Self::Trusted6,
        Self::Untrusted4,
        Self::Untrusted6,
    ];

    fn trusted(self) -> bool {
        matches!(self, Self::Trusted4 | Self::Trusted6)
    }

    /// An address never used before in this process: trusted ones in 10.0.0.0/8 and
    /// fd00::/8, the others in 11.0.0.0/8 and 2001:db8::/32; an IPv6 one in a /64 of its own
    /// (limits count IPv6 clients by their /64).
    fn fresh(self) -> IpAddr {
        static NEXT: AtomicU32 = AtomicU32::new(1);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        assert!(n < 1 << 24, "address space exhausted");
        match self {
            Self::Trusted4 => IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | n)),
            Self::Untrusted4 => IpAddr::V4(Ipv4Addr::from(0x0b00_0000 | n)),
            Self::Trusted6 => IpAddr::V6(Ipv6Addr::from(
                0xfd00_u128 << 112 | u128::from(n) << 64 | 0x7,
            )),
            Self::Untrusted6 => IpAddr::V6(Ipv6Addr::from(
                0x2001_0db8_u128 << 96 | u128::from(n) << 64 | 0x5,
            )),
        }
    }
}

/// How one address is written.
#[derive(Debug, Clone)]
struct Style {
    quoted: bool,
    port: Option<u16>,
    /// Long-hand, upper-case IPv6.
    expanded: bool,
    /// `for`, `For` or `FOR`.
    name: &'static str,
    proto: Option<&'static str>,
    /// `by=` / `host=` members, before or after `for=`.
    others: Vec<(&'static str, bool)>,
    /// A space after the comma that precedes this element.
    space: bool,
}

fn style(g: &mut Rng) -> Style {
    Style {
        quoted: g.bool(),
        port: g.bool().then(|| g.range(0, 65_536) as u16),
        expanded: g.bool(),
        name: g.pick(&["for", "For", "FOR"]),
        proto: g
            .chance(0.3)
            .then(|| g.pick(&["https", "http", "HTTPS", "Https", "wss", ""])),
        others: g.vec(0, 3, |g| {
            let other = g.pick(&[
                "by=10.0.0.1",
                "by=\"[fd00::1]:443\"",
                "host=auth.example",
                "host=\"auth.example:8443\"",
                "by=_proxy1",
                "BY=unknown",
            ]);
            (other, g.bool())
        }),
        space: g.bool(),
    }
}

fn ip_text(ip: IpAddr, expanded: bool) -> String {
    match ip {
        IpAddr::V6(v6) if expanded => v6
            .segments()
            .iter()
            .map(|x| format!("{x:04X}"))
            .collect::<Vec<_>>()
            .join(":"),
        ip => ip.to_string(),
    }
}

/// An RFC 7239 node: `192.0.2.1`, `"192.0.2.1:80"`, `"[2001:db8::1]"`, `"[2001:db8::1]:80"`;
/// IPv6 always quoted (`[` and `:` are not token characters), IPv4 either way, also with a
/// port (`for=192.0.2.60:8080`, which `client::tests` accepts).
fn forwarded_node(ip: IpAddr, s: &Style) -> String {
    let host = match ip {
        IpAddr::V4(_) => ip_text(ip, false),
        IpAddr::V6(_) => format!("[{}]", ip_text(ip, s.expanded)),
    };
    let node = match s.port {
        Some(p) => format!("{host}:{p}"),
        None => host,
    };
    if s.quoted || ip.is_ipv6() {
        format!("\"{node}\"")
    } else {
        node
    }
}

/// An X-Forwarded-For entry: bare addresses, or with a port (IPv6 then in brackets).
fn xff_node(ip: IpAddr, s: &Style) -> String {
    match (ip, s.port) {
        (IpAddr::V4(_), Some(p)) => format!("{ip}:{p}"),
        (IpAddr::V6(_), Some(p)) => format!("[{}]:{p}", ip_text(ip, s.expanded)),
        (IpAddr::V6(_), None) if s.quoted => format!("[{}]", ip_text(ip, s.expanded)),
        _ => ip_text(ip, s.expanded),
    }
}

fn forwarded_element(node: &str, s: &Style) -> String {
    let mut pairs = vec![format!("{}={node}", s.name)];
    if let Some(proto) = s.proto {
        pairs.push(format!("proto={proto}"));
    }
    for (other, before) in &s.others {
        if *before {
            pairs.insert(0, (*other).to_owned());
        } else {
            pairs.push((*other).to_owned());
        }
    }
    pairs.join(";")
}

#[derive(Debug, Clone)]
enum Via {
    /// `Forwarded`, split over this many header lines; the client also sends a decoy
    /// `X-Forwarded-For` and `X-Forwarded-Proto`, which must be ignored.
    Forwarded {
        lines: usize,
        decoys: Vec<Addr>,
        decoy_proto: bool,
    },
    /// `X-Forwarded-For` over this many lines, with unparsable entries the client wrote on the
    /// left, and `X-Forwarded-Proto` values (the first one counts); the client also sends a
    /// decoy `Forwarded` (with `proto=https`), which must be ignored.
    XForwardedFor {
        lines: usize,
        junk: Vec<&'static str>,
        proto: Vec<&'static str>,
        decoys: Vec<Addr>,
    },
}

#[derive(Debug, Clone)]
struct Chain {
    peer: Addr,
    hops: Vec<(Addr, Style)>,
    via: Via,
}

fn chain(g: &mut Rng) -> Chain {
    let via = if g.bool() {
        Via::Forwarded {
            lines: g.range(1, 4) as usize,
            decoys: g.vec(0, 3, |g| g.pick(&Addr::ALL)),
            decoy_proto: g.bool(),
        }
    } else {
        Via::XForwardedFor {
            lines: g.range(1, 4) as usize,
            junk: g.vec(0, 3, |g| {
                g.pick(&["unknown", "_hidden", "", "not-an-ip", "999.1.1.1", "[::1"])
            }),
            proto: g.vec(0, 3, |g| g.pick(&["https", "http", " HTTPS ", "ftp", ""])),
            decoys: g.vec(0, 3, |g| g.pick(&Addr::ALL)),
        }
    };
    // Mostly trusted peers: an untrusted one is the simple case.
    let peer = if g.chance(0.75) {
        g.pick(&[Addr::Trusted4, Addr::Trusted6])
    } else {
        g.pick(&[Addr::Untrusted4, Addr::Untrusted6])
    };
    Chain {
        peer,
        hops: g.vec(0, 6, |g| (g.pick(&Addr::ALL), style(g))),
        via,
    }
}

/// A case with its addresses drawn.
struct Drawn {
    peer: IpAddr,
    hops: Vec<(IpAddr, Addr, Style)>,
    decoys: Vec<IpAddr>,
}

impl Chain {
    fn draw(&self) -> Drawn {
        let (Via::Forwarded { decoys, .. } | Via::XForwardedFor { decoys, .. }) = &self.via;
        let decoys = decoys.iter().map(|a| a.fresh()).collect();
        Drawn {
            peer: self.peer.fresh(),
            hops: self
                .hops
                .iter()
                .map(|(a, s)| (a.fresh(), *a, s.clone()))
                .collect(),
            decoys,
        }
    }

    /// The headers the request carries.
    fn headers(&self, d: &Drawn) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let spaces: Vec<bool> = d.hops.iter().map(|(_, _, s)| s.space).collect();
        match &self.via {
            Via::Forwarded {
                lines, decoy_proto, ..
            } => {
                let elements: Vec<String> = d
                    .hops
                    .iter()
                    .map(|(ip, _, s)| forwarded_element(&forwarded_node(*ip, s), s))
                    .collect();
                for line in split(&elements, &spaces, *lines) {
                    out.push(("forwarded", line));
                }
                if elements.is_empty() {
                    // Present, but naming no client: still never replaced by the decoy.
                    out.push(("forwarded", "by=_edge;host=auth.example".into()));
                }
                if !d.decoys.is_empty() {
                    let list: Vec<String> = d.decoys.iter().map(ToString::to_string).collect();
                    out.push(("x-forwarded-for", list.join(", ")));
                }
                if *decoy_proto {
                    out.push(("x-forwarded-proto", "https".into()));
                }
            }
            Via::XForwardedFor {
                lines, junk, proto, ..
            } => {
                let mut entries: Vec<String> =
                    d.hops.iter().map(|(ip, _, s)| xff_node(*ip, s)).collect();
                let mut spaces = spaces;
                // Junk only on the client's side: left of the right-most untrusted hop.
                if let Some(client) = d.hops.iter().rposition(|(_, a, _)| !a.trusted()) {
                    for j in junk {
                        entries.insert(client, (*j).to_owned());
                        spaces.insert(client, true);
                    }
                }
                for line in split(&entries, &spaces, *lines) {
                    out.push(("x-forwarded-for", line));
                }
                for p in proto {
                    out.push(("x-forwarded-proto", (*p).to_owned()));
                }
                if !d.decoys.is_empty() {
                    let list: Vec<String> = d
                        .decoys
                        .iter()
                        .map(|ip| format!("for=\"{ip}\";proto=https"))
                        .collect();
                    out.push(("forwarded", list.join(", ")));
                }
            }
        }
        out
    }

    /// The header the proxies of this case write: the app's configuration.
    fn writing(&self) -> &'static str {
        match self.via {
            Via::Forwarded { .. } => WRITING_FORWARDED,
            Via::XForwardedFor { .. } => WRITING_XFF,
        }
    }

    /// The client the documented rules resolve: the peer unless it is a trusted proxy; then
    /// the right-most hop that is not a trusted proxy in the header the proxies write (never
    /// the other), or the peer when every hop is a proxy. HTTPS: the last `proto=` of
    /// `Forwarded`, or the first `X-Forwarded-Proto`, only when a client was resolved.
    fn expected(&self, d: &Drawn) -> (IpAddr, bool) {
        if !self.peer.trusted() {
            return (d.peer, false);
        }
        let Some((ip, _, _)) = d.hops.iter().rev().find(|(_, a, _)| !a.trusted()) else {
            return (d.peer, false);
        };
        let https = match &self.via {
            Via::Forwarded { .. } => d
                .hops
                .iter()
                .filter_map(|(_, _, s)| s.proto)
                .next_back()
                .is_some_and(|p| p.eq_ignore_ascii_case("https")),
            Via::XForwardedFor { proto, .. } => proto
                .first()
                .is_some_and(|p| p.trim().eq_ignore_ascii_case("https")),
        };
        (*ip, https)
    }

    fn probes(d: &Drawn) -> Vec<IpAddr> {
        let mut all = vec![d.peer];
        all.extend(d.hops.iter().map(|(ip, _, _)| *ip));
        all.extend(&d.decoys);
        all
    }
}

/// Joins `items` with commas (a space after where `spaces` says) over `lines` header lines.
fn split(items: &[String], spaces: &[bool], lines: usize) -> Vec<String> {
    if items.is_empty() {
        return Vec::new();
    }
    let per = items.len().div_ceil(lines.max(1));
    items
        .chunks(per)
        .zip(spaces.chunks(per))
        .map(|(chunk, sp)| {
            let mut line = String::new();
            for (i, (item, space)) in chunk.iter().zip(sp).enumerate() {
                if i > 0 {
                    line.push_str(if *space { ", " } else { "," });
                }
                line.push_str(item);
            }
            line
        })
        .collect()
}

/// Sends a request from `peer` with raw header values; the status and headers.
async fn send(
    app: &App,
    peer: IpAddr,
    method: Method,
    uri: &str,
    headers: &[(&str, Vec<u8>)],
    body: &str,
) -> (StatusCode, HeaderMap) {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .extension(ConnectInfo(SocketAddr::new(peer, 40_000)))
        .body(Body::from(body.to_owned()))
        .unwrap();
    let auth = format!("Bearer {}", app.key);
    let h = req.headers_mut();
    h.insert("authorization", HeaderValue::from_str(&auth).unwrap());
    h.insert("content-type", HeaderValue::from_static("application/json"));
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes()).unwrap();
        h.append(name, HeaderValue::from_bytes(value).unwrap());
    }
    let response = tessera_server::http::app(app.state.clone())
        .oneshot(req)
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    // Drain the body: a handler that fails while streaming it fails here.
    axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, headers)
}

/// Which of `probes` the last request was counted against: each is asked once, plainly.
async fn counted(app: &App, probes: &[IpAddr]) -> Result<BTreeSet<IpAddr>, String> {
    let mut out = BTreeSet::new();
    for ip in probes {
        match send(app, *ip, Method::GET, ROUTE, &[], "").await.0 {
            StatusCode::TOO_MANY_REQUESTS => {
                out.insert(*ip);
            }
            StatusCode::OK => {}
            other => return Err(format!("probe {ip}: {other}")),
        }
    }
    Ok(out)
}

fn printable(headers: &[(&str, Vec<u8>)]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| ((*k).to_owned(), String::from_utf8_lossy(v).into_owned()))
        .collect()
}

/// Behind a trusted proxy the client is the right-most address that is not a trusted proxy, in
/// the header the proxies write (whatever the other says: the client wrote it), in every way
/// RFC 7239 and common proxies write addresses (quoted or not, ports, brackets, long-hand
/// IPv6, several header lines, other parameters, parameter names in any case); the peer itself
/// when every hop is a proxy or when the peer is not a trusted proxy. Exactly that address is
/// counted, and HSTS follows the forwarded scheme.
#[test]
fn forwarded_clients_resolve_by_the_documented_rules() {
    let rt = runtime();
    let apps: Vec<(&str, App)> = [WRITING_FORWARDED, WRITING_XFF]
        .into_iter()
        .map(|writing| {
            let app = rt.block_on(App::with(&format!("{PROXIES}{writing}{ONE_AN_HOUR}")));
            (writing, app)
        })
        .collect();
    fuzz::run("forwarded_resolution", 128, chain, |chain| {
        let app = &apps.iter().find(|(w, _)| *w == chain.writing()).unwrap().1;
        rt.block_on(async {
            let drawn = chain.draw();
            let headers: Vec<(&str, Vec<u8>)> = chain
                .headers(&drawn)
                .into_iter()
                .map(|(k, v)| (k, v.into_bytes()))
                .collect();
            let shown = printable(&headers);
            let (want, https) = chain.expected(&drawn);
            let (status, response) = send(app, drawn.peer, Method::GET, ROUTE, &headers, "").await;
            ensure_eq!(status, StatusCode::OK, "{shown:?}");
            ensure_eq!(
                response.contains_key("strict-transport-security"),
                https,
                "HSTS from {} with {shown:?}",
                drawn.peer
            );
            let got = counted(app, &Chain::probes(&drawn)).await?;
            ensure_eq!(
                got,
                BTreeSet::from([want]),
                "resolved from {} with {shown:?}",
                drawn.peer
            );
            Ok(())
        })
    });
}

/// `Forwarded` elements that are not plain addresses.
#[derive(Debug, Clone)]
enum Member {
    Hop(Addr, Style),
    /// RFC 7239 identifiers that name no address: `unknown`, obfuscated (`_hidden`).
    Hidden(&'static str),
    /// A `for=` that does not parse, or a pair without `=`: a hop naming no address.
    Malformed(&'static str),
    /// An element without `for=` (only `by=`, `host=`): no hop at all.
    NoFor(&'static str),
    /// An empty pair (`for=…;;…`) or an empty list element: nothing.
    Empty,
}

#[derive(Debug, Clone)]
struct Hidden {
    peer: Addr,
    members: Vec<Member>,
    decoys: Vec<Addr>,
    decoy_proto: bool,
}

fn hidden(g: &mut Rng) -> Hidden {
    let mut members = g.vec(1, 7, |g| match g.weighted(&[6, 2, 2, 1, 1]) {
        0 => Member::Hop(g.pick(&Addr::ALL), style(g)),
        1 => Member::Hidden(g.pick(&[
            "for=unknown",
            "for=_hidden",
            "for=\"_proxy.2\"",
            "FOR=UNKNOWN",
            "for=\"unknown\"",
            "for=\"_x:_port\"",
        ])),
        2 => Member::Malformed(g.pick(&[
            "for",
            "for=",
            "for=not-an-ip",
            "for=999.1.1.1",
            "for=\"\"",
            "garbage",
            "for=1.2.3",
        ])),
        3 => Member::NoFor(g.pick(&["by=10.0.0.1", "host=auth.example", "by=_edge"])),
        _ => Member::Empty,
    });
    if members.iter().all(|m| matches!(m, Member::Hop(..))) {
        let at = g.below(members.len() + 1);
        members.insert(at, Member::Hidden("for=_hidden"));
    }
    Hidden {
        peer: g.pick(&[Addr::Trusted4, Addr::Trusted6]),
        members,
        decoys: g.vec(1, 3, |g| g.pick(&[Addr::Untrusted4, Addr::Untrusted6])),
        decoy_proto: g.bool(),
    }
}

/// A present `Forwarded` is never replaced by `X-Forwarded-For` (which the client controls
/// behind a proxy that writes only `Forwarded`), whatever its elements: `unknown`, obfuscated
/// and malformed `for=` are hops that name no address, elements without `for=` and empty ones
/// are not hops. The client is the right-most hop that is not a trusted proxy: an address, or
/// when it names none, the proxy's own address; the peer when every hop is a proxy.
#[test]
fn forwarded_hidden_and_malformed_members_never_fall_back() {
    let rt = runtime();
    let app = rt.block_on(App::with(&format!(
        "{PROXIES}{WRITING_FORWARDED}{ONE_AN_HOUR}"
    )));
    fuzz::run("forwarded_hidden_members", 128, hidden, |case| {
        rt.block_on(async {
            let peer = case.peer.fresh();
            let decoys: Vec<IpAddr> = case.decoys.iter().map(|a| a.fresh()).collect();
            // Each member with its address when it has one, and whether it is a hop.
            let drawn: Vec<(Option<(IpAddr, Addr)>, &Member)> = case
                .members
                .iter()
                .map(|m| match m {
                    Member::Hop(a, _) => (Some((a.fresh(), *a)), m),
                    _ => (None, m),
                })
                .collect();
            let mut elements: Vec<String> = Vec::new();
            for (i, (hop, m)) in drawn.iter().enumerate() {
                match (hop, m) {
                    (Some((ip, _)), Member::Hop(_, s)) => {
                        elements.push(forwarded_element(&forwarded_node(*ip, s), s));
                    }
                    (_, Member::Hidden(text) | Member::Malformed(text) | Member::NoFor(text)) => {
                        elements.push((*text).to_owned());
                    }
                    // Alternately an empty pair in the previous element and an empty element.
                    _ => match elements.last_mut() {
                        Some(last) if i % 2 == 0 => last.push_str(";;"),
                        _ => elements.push(String::new()),
                    },
                }
            }
            let xff: Vec<String> = decoys.iter().map(ToString::to_string).collect();
            let mut headers = vec![
                ("forwarded", elements.join(", ").into_bytes()),
                ("x-forwarded-for", xff.join(", ").into_bytes()),
            ];
            if case.decoy_proto {
                headers.push(("x-forwarded-proto", b"https".to_vec()));
            }
            let shown = printable(&headers);
            let (status, response) = send(&app, peer, Method::GET, ROUTE, &headers, "").await;
            ensure_eq!(status, StatusCode::OK, "{shown:?}");
            let mut probes = vec![peer];
            probes.extend(drawn.iter().filter_map(|(h, _)| h.map(|(ip, _)| ip)));
            probes.extend(&decoys);
            let got = counted(&app, &probes).await?;
            // The right-most hop that is not one of our proxies.
            let client = drawn.iter().rev().find(|(h, m)| match m {
                Member::Hop(..) => h.is_some_and(|(_, a)| !a.trusted()),
                Member::Hidden(_) | Member::Malformed(_) => true,
                Member::NoFor(_) | Member::Empty => false,
            });
            let want = match client {
                Some((Some((ip, _)), _)) => *ip,
                _ => peer,
            };
            ensure_eq!(got, BTreeSet::from([want]), "{shown:?}");
            let proto = case.members.iter().rev().find_map(|m| match m {
                Member::Hop(_, s) => s.proto,
                _ => None,
            });
            let https = client.is_some() && proto.is_some_and(|p| p.eq_ignore_ascii_case("https"));
            ensure_eq!(
                response.contains_key("strict-transport-security"),
                https,
                "HSTS with {shown:?}"
            );
            Ok(())
        })
    });
}

/// Whatever bytes a `Forwarded` header holds, an `X-Forwarded-For` beside it is never believed.
#[test]
fn forwarded_junk_never_falls_back() {
    let rt = runtime();
    let app = rt.block_on(App::with(&format!(
        "{PROXIES}{WRITING_FORWARDED}{ONE_AN_HOUR}"
    )));
    let generate = |g: &mut Rng| {
        let lines = g.vec(1, 3, header_bytes);
        let peer = g.pick(&[Addr::Trusted4, Addr::Trusted6]);
        (peer, lines, g.pick(&[Addr::Untrusted4, Addr::Untrusted6]))
    };
    fuzz::run("forwarded_junk", 64, generate, |(peer, lines, decoy)| {
        rt.block_on(async {
            let (peer, decoy) = (peer.fresh(), decoy.fresh());
            let mut headers: Vec<(&str, Vec<u8>)> =
                lines.iter().map(|l| ("forwarded", l.clone())).collect();
            headers.push(("x-forwarded-for", decoy.to_string().into_bytes()));
            let (status, _) = send(&app, peer, Method::GET, ROUTE, &headers, "").await;
            let shown = printable(&headers);
            ensure!(!status.is_server_error(), "{status} for {shown:?}");
            let got = counted(&app, &[decoy]).await?;
            ensure!(got.is_empty(), "X-Forwarded-For believed over {shown:?}");
            Ok(())
        })
    });
}

/// Header bytes a client may send: visible ASCII, tabs, spaces and obs-text, or fragments of
/// the grammar (addresses, brackets, quotes, separators) glued at random.
fn header_bytes(g: &mut Rng) -> Vec<u8> {
    const FRAGMENTS: [&str; 33] = [
        "for=",
        "For=",
        "proto=",
        "by=",
        "host=",
        "\"",
        "[",
        "]",
        ":",
        ";",
        ",",
        " ",
        "\t",
        "=",
        "unknown",
        "_hidden",
        "https",
        "http",
        "10.0.0.1",
        "11.2.3.4",
        "192.0.2.1:80",
        "[2001:db8::1]",
        "[2001:db8::1]:443",
        "2001:db8::1",
        "::1",
        "::ffff:10.0.0.1",
        "fd00::7",
        "999.999.999.999",
        "0",
        "-",
        "%2e",
        "\u{e9}",
        "\u{202e}",
    ];
    if g.bool() {
        g.vec(0, 200, |g| match g.weighted(&[1, 12, 3]) {
            0 => b'\t',
            1 => g.range(0x20, 0x7f) as u8,
            _ => g.range(0x80, 0x100) as u8,
        })
    } else {
        g.vec(0, 30, |g| g.pick(&FRAGMENTS)).concat().into_bytes()
    }
}

#[derive(Debug, Clone, Copy)]
enum Route {
    List,
    Create,
    Verify,
    Refresh,
    Jwks,
    LoginPage,
    Ready,
}

impl Route {
    const ALL: [Route; 7] = [
        Self::List,
        Self::Create,
        Self::Verify,
        Self::Refresh,
        Self::Jwks,
        Self::LoginPage,
        Self::Ready,
    ];

    fn request(self) -> (Method, &'static str, &'static str) {
        match self {
            Self::List => (Method::GET, ROUTE, ""),
            Self::Create => (Method::POST, "/v1/sessions", "{\"user_id\":\"fuzz\"}"),
            Self::Verify => (Method::POST, "/v1/sessions/verify", "{\"token\":\"a.b.c\"}"),
            Self::Refresh => (
                Method::POST,
                "/v1/sessions/refresh",
                "{\"refresh_token\":\"tsr_x\"}",
            ),
            Self::Jwks => (Method::GET, "/.well-known/jwks.json", ""),
            Self::LoginPage => (Method::GET, "/auth/login", ""),
            Self::Ready => (Method::GET, "/readyz", ""),
        }
    }
}

/// Whatever a client or a proxy writes in `Forwarded`, `X-Forwarded-For` and
/// `X-Forwarded-Proto`, from a trusted proxy or not, no route answers 5xx or panics.
#[test]
fn forwarding_headers_never_cause_a_server_error() {
    let rt = runtime();
    let apps = [WRITING_FORWARDED, WRITING_XFF]
        .map(|writing| rt.block_on(App::with(&format!("{PROXIES}{writing}"))));
    let generate = |g: &mut Rng| {
        let headers = g.vec(0, 5, |g| {
            let name = g.pick(&[
                "forwarded",
                "x-forwarded-for",
                "x-forwarded-proto",
                "Forwarded",
            ]);
            (name, header_bytes(g))
        });
        (g.pick(&Addr::ALL), g.pick(&Route::ALL), headers, g.below(2))
    };
    fuzz::run(
        "forwarded_no_5xx",
        128,
        generate,
        |(peer, route, headers, app)| {
            rt.block_on(async {
                let peer = peer.fresh();
                let (method, uri, body) = route.request();
                let (status, _) = send(&apps[*app], peer, method, uri, headers, body).await;
                ensure!(
                    !status.is_server_error(),
                    "{status} from {peer} with {:?}",
                    printable(headers)
                );
                Ok(())
            })
        },
    );
}

// ---------------------------------------------------------------------------------------------
// The configuration loader
// ---------------------------------------------------------------------------------------------

/// A configuration setting every key, each validly.
fn full_config() -> String {
    let kek = tessera::KeyEncryptionKey::generate().unwrap().expose();
    let old_kek = tessera::KeyEncryptionKey::generate().unwrap().expose();
    let key = tessera::ApiKey::generate().unwrap().expose();
    let secret = tessera::random_id().unwrap() + &tessera::random_id().unwrap();
    format!(
        r#"listen = "127.0.0.1:8443"
data_dir = "/var/lib/tessera"
issuer = "https://auth.example"
audience = "api"
algorithm = "HS256"
hs256_secret = "{secret}"
admin_api_key = "{key}"
access_ttl = "10m"
idle_timeout = "7d"
absolute_timeout = "30d"
refresh_grace = 10
key_rotation_interval = "30d"
purge_interval = "5m"
audit_retention = "90d"
request_timeout = "10s"
max_sessions_per_user = 5
on_session_limit = "deny"
cookie_secure = true
max_body_bytes = 262144
log_format = "json"
log_level = "info,tessera=debug"
trusted_proxies = ["10.0.0.0/8", "::1"]
forwarded_header = "x-forwarded-for"
tls_cert = "/etc/tessera/cert.pem"
tls_key = "/etc/tessera/key.pem"
behind_tls_proxy = true
cookie_same_site = "strict"
public_origin = "https://auth.example"
store = "sqlite:///var/lib/tessera/tessera.db"
redis_key_tag = "{{tessera}}"
feed_staleness = "5s"
signup = "open"
signup_client_limit = "20/h:5"
signin_account_limit = "20/h:5"
signin_device_limit = "20/h:10"
signin_client_limit = "100/h:30"
password_hash_queue = 8
password_hash_wait = "2s"
key_encryption_key = "{kek}"
previous_key_encryption_keys = ["{old_kek}"]
metrics_listen = "127.0.0.1:9090"

[rate_limits]
verify = {{ session = "1200/m:200", client = "off" }}
refresh = {{ session = "20/m:10" }}
login = {{ user = "30/m:10", client = "60/m" }}
admin = {{ client = "600/m" }}
"#
    )
}

/// The rules a loaded configuration always satisfies, whatever was written.
fn check_invariants(c: &Config) -> Result<(), String> {
    ensure!(
        (1024..=16 * 1024 * 1024).contains(&c.max_body_bytes),
        "max_body_bytes {}",
        c.max_body_bytes
    );
    let loopback = c.listen.ip().is_loopback();
    ensure!(
        c.cookie_secure || loopback,
        "insecure cookies on {}",
        c.listen
    );
    ensure!(
        c.tls.is_some() || c.behind_tls_proxy || loopback,
        "plain HTTP on {}",
        c.listen
    );
    ensure!(
        c.hs256_secret.is_none() || c.rotation.algorithm == tessera::Algorithm::HS256,
        "an HS256 secret for {:?}",
        c.rotation.algorithm
    );
    ensure!(c.policy.validate().is_ok(), "{:?}", c.policy);
    ensure!(c.rotation.validate().is_ok(), "{:?}", c.rotation);
    ensure!(
        c.rotation.retire_after >= c.policy.access_ttl + c.validation.leeway(),
        "keys retire before their tokens expire"
    );
    ensure!(
        (1..=1024).contains(&c.sign_in.hash_queue),
        "hash queue {}",
        c.sign_in.hash_queue
    );
    ensure!(
        !c.sign_in.hash_wait.is_zero() && c.sign_in.hash_wait <= Duration::from_secs(60),
        "hash wait {:?}",
        c.sign_in.hash_wait
    );
    ensure!(
        c.key_encryption_key.is_some()
            || matches!(c.store, tessera_server::config::StoreUrl::Sqlite(_)),
        "a shared store without a key-encryption key"
    );
    Ok(())
}

/// Loads `text`: a refusal is a message; what loads obeys the loader's rules.
fn load(text: &str) -> Result<Option<Config>, String> {
    match Config::from_toml(text) {
        Ok(c) => {
            check_invariants(&c)?;
            Ok(Some(c))
        }
        Err(message) => {
            ensure!(!message.trim().is_empty(), "an empty message");
            Ok(None)
        }
    }
}

/// Arbitrary text and TOML-shaped noise: no panic, refusals are messages, and whatever loads
/// obeys the loader's rules.
#[test]
fn config_loader_survives_arbitrary_text() {
    const KEYS: [&str; 14] = [
        "listen",
        "access_ttl",
        "max_body_bytes",
        "trusted_proxies",
        "store",
        "algorithm",
        "hs256_secret",
        "cookie_secure",
        "rate_limits",
        "key_encryption_key",
        "feed_staleness",
        "password_hash_queue",
        "x",
        "",
    ];
    const VALUES: [&str; 20] = [
        "\"\"",
        "0",
        "-1",
        "1.5",
        "true",
        "[]",
        "{}",
        "\"10m\"",
        "\"off\"",
        "[\"::/0\"]",
        "{ verify = { session = \"0/s\" } }",
        "\"redis://h\"",
        "\"HS256\"",
        "9223372036854775807",
        "\"0.0.0.0:80\"",
        "nan",
        "inf",
        "1979-05-27",
        "'''x'''",
        "\"\\u0000\"",
    ];
    let generate = |g: &mut Rng| match g.below(3) {
        0 => g.string(0, 200),
        1 => g
            .vec(0, 6, |g| {
                format!("{} = {}\n", g.pick(&KEYS), g.pick(&VALUES))
            })
            .concat(),
        _ => g.text_of(
            "abcdefghijklmnopqrstuvwxyz_0123456789 =\"[]{}.,\n\t#'-:/",
            0,
            200,
        ),
    };
    fuzz::run("config_arbitrary", 512, generate, |text| {
        load(text)?;
        Ok(())
    });
}

/// Edits of a complete, valid configuration.
#[derive(Debug, Clone)]
enum ConfigEdit {
    DeleteLine(usize),
    DuplicateLine(usize),
    SwapLines(usize, usize),
    ReplaceValue(usize, String),
    ReplaceChar(usize, char),
    Truncate(usize),
}

fn config_value(g: &mut Rng) -> String {
    const VALUES: [&str; 41] = [
        "\"\"",
        "0",
        "-1",
        "1",
        "4294967296",
        "9223372036854775807",
        "1.5",
        "true",
        "false",
        "[]",
        "{}",
        "[\"\"]",
        "\"off\"",
        "\"0/m\"",
        "\"1/s:0\"",
        "\"4294967295/s:4294967295\"",
        "\"99999999999999999999d\"",
        "\"0\"",
        "\"0s\"",
        "\"24h\"",
        "\"25h\"",
        "\"9s\"",
        "\"121\"",
        "\"::/0\"",
        "\"0.0.0.0:0\"",
        "\"[::]:80\"",
        "\"[::1]:80\"",
        "\"redis://127.0.0.1:6379\"",
        "\"redis+cluster://\"",
        "\"redis+cluster://a:1, ,b:2\"",
        "\"sqlite://\"",
        "\"EdDSA\"",
        "\"none\"",
        "\"HS256\"",
        "\"lax\"",
        "\"{}\"",
        "\"{a}{b}\"",
        "[\"10.0.0.0/33\"]",
        "\"10.0.0.0/8, ::1/129\"",
        "\"a\\u0000b\"",
        "{ session = \"1/s\" }",
    ];
    match g.weighted(&[6, 2, 1]) {
        0 => g.pick(&VALUES).to_owned(),
        1 => serde_json::to_string(&g.string(0, 20)).unwrap(),
        _ => g.i64().to_string(),
    }
}

fn config_edit(g: &mut Rng) -> ConfigEdit {
    let i = g.next() as usize;
    match g.weighted(&[2, 1, 1, 6, 1, 1]) {
        0 => ConfigEdit::DeleteLine(i),
        1 => ConfigEdit::DuplicateLine(i),
        2 => ConfigEdit::SwapLines(i, g.next() as usize),
        3 => ConfigEdit::ReplaceValue(i, config_value(g)),
        4 => ConfigEdit::ReplaceChar(i, g.char()),
        _ => ConfigEdit::Truncate(i),
    }
}

fn edit_config(base: &str, edits: &[ConfigEdit]) -> String {
    let mut lines: Vec<String> = base.lines().map(str::to_owned).collect();
    for e in edits {
        let n = lines.len().max(1);
        match e {
            ConfigEdit::DeleteLine(i) if !lines.is_empty() => {
                lines.remove(i % n);
            }
            ConfigEdit::DuplicateLine(i) if !lines.is_empty() => {
                let line = lines[i % n].clone();
                lines.insert(i % n, line);
            }
            ConfigEdit::SwapLines(a, b) if !lines.is_empty() => lines.swap(a % n, b % n),
            ConfigEdit::ReplaceValue(i, v) if !lines.is_empty() => {
                let line = &mut lines[i % n];
                if let Some((key, _)) = line.split_once(" = ") {
                    *line = format!("{key} = {v}");
                }
            }
            ConfigEdit::ReplaceChar(i, c) if !lines.is_empty() => {
                let line = &mut lines[i % n];
                let mut chars: Vec<char> = line.chars().collect();
                if !chars.is_empty() {
                    let at = i % chars.len();
                    chars[at] = *c;
                    *line = chars.into_iter().collect();
                }
            }
            ConfigEdit::Truncate(i) => lines.truncate(i % (n + 1)),
            _ => {}
        }
    }
    lines.join("\n")
}

/// A complete, valid configuration loads; with values replaced, lines deleted, duplicated or
/// swapped, or characters changed, it never panics, refusals are messages, and what loads
/// obeys the loader's rules.
#[test]
fn config_loader_survives_edited_configurations() {
    let base = full_config();
    let loaded = Config::from_toml(&base).unwrap();
    check_invariants(&loaded).unwrap();
    let generate = |g: &mut Rng| g.vec(1, 4, config_edit);
    fuzz::run("config_edits", 512, generate, |edits| {
        load(&edit_config(&base, edits))?;
        Ok(())
    });
}

/// One setting, written in a form chosen to hit its rule's edges.
#[derive(Debug, Clone)]
enum Setting {
    /// `purge_interval`, `audit_retention` or `request_timeout` (no other constraint).
    Duration {
        key: &'static str,
        value: DurationText,
    },
    MaxBody(i64),
    Proxies {
        items: Vec<CidrText>,
        as_text: bool,
    },
    Quota {
        class: &'static str,
        by: &'static str,
        text: QuotaText,
    },
    HashQueue(i64),
}

#[derive(Debug, Clone)]
enum DurationText {
    Int(i64),
    Text {
        lead: &'static str,
        digits: String,
        unit: &'static str,
        trail: &'static str,
    },
}

#[derive(Debug, Clone)]
struct CidrText {
    ip: IpAddr,
    prefix: Option<String>,
    /// Picks the bits flipped to find addresses inside and outside the range.
    bit: u8,
    space: bool,
}

#[derive(Debug, Clone)]
enum QuotaText {
    Off(&'static str),
    Rate {
        rate: String,
        unit: &'static str,
        burst: Option<String>,
        spaces: bool,
    },
}

fn number_text(g: &mut Rng) -> String {
    match g.weighted(&[4, 1, 1]) {
        0 => g.range(0, 100).to_string(),
        1 => (g.next() as u32).to_string(),
        _ => g
            .pick(&[
                "0",
                "4294967295",
                "4294967296",
                "-1",
                "",
                "x",
                "1.5",
                "+3",
                "007",
            ])
            .to_owned(),
    }
}

fn duration_text(g: &mut Rng) -> DurationText {
    match g.weighted(&[1, 2, 6]) {
        0 => DurationText::Int(g.i64()),
        1 => DurationText::Int(g.range(0, 100_000) as i64),
        _ => DurationText::Text {
            lead: g.pick(&["", " ", "\t"]),
            digits: match g.weighted(&[6, 1, 1]) {
                0 => g.text_of("0123456789", 1, 7),
                1 => g.text_of("0123456789", 18, 22),
                _ => g.pick(&["", "+5", "-5", "1.5", "0x10"]).to_owned(),
            },
            unit: g.pick(&[
                "", "s", "m", "h", "d", "w", "S", "M", " m", "ms", "sec", "\u{b5}s",
            ]),
            trail: g.pick(&["", " ", "\n"]),
        },
    }
}

fn cidr_text(g: &mut Rng) -> CidrText {
    let ip = if g.bool() {
        IpAddr::V4(Ipv4Addr::from(g.next() as u32))
    } else {
        IpAddr::V6(Ipv6Addr::from(
            u128::from(g.next()) << 64 | u128::from(g.next()),
        ))
    };
    let prefix = g.chance(0.8).then(|| {
        if g.chance(0.85) {
            g.range(0, 141).to_string()
        } else {
            g.pick(&["", "x", "-1", "1.5", "256", " 8"]).to_owned()
        }
    });
    CidrText {
        ip,
        prefix,
        bit: g.next() as u8,
        space: g.bool(),
    }
}

fn quota_text(g: &mut Rng) -> QuotaText {
    if g.chance(0.15) {
        QuotaText::Off(g.pick(&["off", " off ", "OFF", "of"]))
    } else {
        QuotaText::Rate {
            rate: number_text(g),
            unit: g.pick(&["s", "m", "h", "d", "", "S"]),
            burst: g.bool().then(|| number_text(g)),
            spaces: g.bool(),
        }
    }
}

fn setting(g: &mut Rng) -> Setting {
    match g.weighted(&[3, 1, 3, 3, 1]) {
        0 => Setting::Duration {
            key: g.pick(&["purge_interval", "audit_retention", "request_timeout"]),
            value: duration_text(g),
        },
        1 => Setting::MaxBody(match g.below(3) {
            0 => g.i64(),
            1 => g.range(0, 20_000_000) as i64,
            _ => g.pick(&[1023, 1024, 16_777_216, 16_777_217]),
        }),
        2 => Setting::Proxies {
            items: g.vec(0, 4, cidr_text),
            as_text: g.bool(),
        },
        3 => Setting::Quota {
            class: g.pick(&["verify", "refresh", "login", "admin"]),
            by: g.pick(&["session", "user", "client"]),
            text: quota_text(g),
        },
        _ => Setting::HashQueue(if g.bool() {
            g.range(0, 1100) as i64 - 2
        } else {
            g.i64()
        }),
    }
}

fn toml_string(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

impl CidrText {
    fn text(&self) -> String {
        let mut t = self.ip.to_string();
        if let Some(p) = &self.prefix {
            t = format!("{t}/{p}");
        }
        if self.space { format!(" {t} ") } else { t }
    }

    /// The prefix length, when the text is a valid range.
    fn prefix(&self) -> Option<u8> {
        let max = if self.ip.is_ipv4() { 32 } else { 128 };
        match &self.prefix {
            None => Some(max),
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u8>().ok().filter(|p| *p <= max)
            }
            Some(_) => None,
        }
    }
}

/// `ip` with bit `bit` flipped, counting from the most significant.
fn with_bit_flipped(ip: IpAddr, bit: u32) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(Ipv4Addr::from(u32::from(v4) ^ (1 << (31 - bit)))),
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) ^ (1 << (127 - bit)))),
    }
}

impl Setting {
    fn toml(&self) -> String {
        match self {
            Self::Duration { key, value } => match value {
                DurationText::Int(n) => format!("{key} = {n}"),
                DurationText::Text {
                    lead,
                    digits,
                    unit,
                    trail,
                } => {
                    let text = format!("{lead}{digits}{unit}{trail}");
                    format!("{key} = {}", toml_string(&text))
                }
            },
            Self::MaxBody(n) => format!("max_body_bytes = {n}"),
            Self::Proxies { items, as_text } => {
                let texts: Vec<String> = items.iter().map(CidrText::text).collect();
                let list = if *as_text {
                    format!("trusted_proxies = {}", toml_string(&texts.join(",")))
                } else {
                    let quoted: Vec<String> = texts.iter().map(|t| toml_string(t)).collect();
                    format!("trusted_proxies = [{}]", quoted.join(", "))
                };
                if items.is_empty() {
                    list
                } else {
                    format!("{list}\n{WRITING_XFF}")
                }
            }
            Self::Quota { class, by, text } => {
                let value = match text {
                    QuotaText::Off(t) => (*t).to_owned(),
                    QuotaText::Rate {
                        rate,
                        unit,
                        burst,
                        spaces,
                    } => {
                        let sp = if *spaces { " " } else { "" };
                        let burst = burst
                            .as_ref()
                            .map_or(String::new(), |b| format!(":{sp}{b}"));
                        format!("{sp}{rate}{sp}/{unit}{burst}")
                    }
                };
                let value = toml_string(&value);
                format!("[rate_limits]\n{class} = {{ {by} = {value} }}")
            }
            Self::HashQueue(n) => format!("password_hash_queue = {n}"),
        }
    }

    /// The key an error message must name.
    fn key(&self) -> &'static str {
        match self {
            Self::Duration { key, .. } => key,
            Self::MaxBody(_) => "max_body_bytes",
            Self::Proxies { .. } => "trusted_proxies",
            Self::Quota { class, .. } => class,
            Self::HashQueue(_) => "password_hash_queue",
        }
    }

    /// Checks the outcome of loading this setting alone against its documented rule.
    fn check(&self, loaded: &Result<Config, String>) -> Result<(), String> {
        let text = self.toml();
        match loaded {
            Err(message) => ensure!(
                message.contains(self.key()),
                "the message does not name {}: {message:?} for {text}",
                self.key()
            ),
            Ok(c) => check_invariants(c)?,
        }
        match self {
            Self::Duration { key, value } => {
                let want = match value {
                    DurationText::Int(n) => u64::try_from(*n).ok(),
                    // Surrounding white space is trimmed; none may sit between number and unit.
                    DurationText::Text { digits, unit, .. } => {
                        let scale = match *unit {
                            "" | "s" => Some(1),
                            "m" => Some(60),
                            "h" => Some(3600),
                            "d" => Some(86_400),
                            _ => None,
                        };
                        let n = digits
                            .parse::<u64>()
                            .ok()
                            .filter(|_| digits.bytes().all(|b| b.is_ascii_digit()));
                        n.zip(scale).and_then(|(n, s)| n.checked_mul(s))
                    }
                };
                // The pacing intervals are bounded: at least a second, at most 7 days
                // (purge) or an hour (a request); audit retention is not.
                let bounds = match *key {
                    "purge_interval" => Some(7 * 86_400),
                    "request_timeout" => Some(3600),
                    _ => None,
                };
                let want = want.filter(|n| bounds.is_none_or(|max| (1..=max).contains(n)));
                let got = loaded.as_ref().ok().map(|c| match *key {
                    "purge_interval" => c.purge_interval,
                    "audit_retention" => c.audit_retention,
                    _ => c.request_timeout,
                });
                ensure_eq!(got, want.map(Duration::from_secs), "{text}");
            }
            Self::MaxBody(n) => {
                let want = usize::try_from(*n)
                    .ok()
                    .filter(|n| (1024..=16 * 1024 * 1024).contains(n));
                let got = loaded.as_ref().ok().map(|c| c.max_body_bytes);
                ensure_eq!(got, want, "{text}");
            }
            Self::Proxies { items, .. } => {
                let valid = items.iter().all(|c| c.prefix().is_some());
                ensure_eq!(
                    loaded.is_ok(),
                    valid,
                    "{text} -> {:?}",
                    loaded.as_ref().err()
                );
                if let Ok(c) = loaded {
                    ensure_eq!(c.trusted_proxies.ranges().len(), items.len(), "{text}");
                    for (cidr, item) in c.trusted_proxies.ranges().iter().zip(items) {
                        check_range(cidr, item)?;
                    }
                }
            }
            Self::Quota { class, by, text: q } => {
                let allowed = matches!(
                    (*class, *by),
                    ("verify" | "refresh", "session" | "client")
                        | ("login", "user" | "client")
                        | ("admin", "client")
                );
                let number = |s: &str| s.trim().parse::<u32>().ok().filter(|n| *n > 0);
                let want: Option<Option<(u32, u64, u32)>> = match q {
                    QuotaText::Off(t) if t.trim() == "off" => Some(None),
                    QuotaText::Off(_) => None,
                    QuotaText::Rate {
                        rate, unit, burst, ..
                    } => {
                        let period = match *unit {
                            "s" => Some(1),
                            "m" => Some(60),
                            "h" => Some(3600),
                            _ => None,
                        };
                        let rate = number(rate);
                        let burst = burst.as_deref().map_or(rate, number);
                        match (rate, period, burst) {
                            (Some(r), Some(p), Some(b)) => Some(Some((r, p, b))),
                            _ => None,
                        }
                    }
                };
                let want = want.filter(|_| allowed);
                let refusal = loaded.as_ref().err();
                ensure_eq!(loaded.is_ok(), want.is_some(), "{text} -> {refusal:?}");
                if let (Ok(c), Some(want)) = (loaded, want) {
                    let class = match *class {
                        "verify" => LimitClass::Verify,
                        "refresh" => LimitClass::Refresh,
                        "login" => LimitClass::Login,
                        _ => LimitClass::Admin,
                    };
                    let by = match *by {
                        "session" => LimitBy::Session,
                        "user" => LimitBy::User,
                        _ => LimitBy::Client,
                    };
                    let got = c
                        .rate_limits
                        .get(class, by)
                        .map(|q| (q.rate(), q.period().as_secs(), q.burst()));
                    ensure_eq!(got, want, "{text}");
                }
            }
            Self::HashQueue(n) => {
                let want = usize::try_from(*n).ok().filter(|n| (1..=1024).contains(n));
                let got = loaded.as_ref().ok().map(|c| c.sign_in.hash_queue);
                ensure_eq!(got, want, "{text}");
            }
        }
        Ok(())
    }
}

/// A loaded range holds its own address, addresses differing only past the prefix, and (for
/// IPv4) their IPv4-mapped IPv6 form; not an address differing inside the prefix, nor one of
/// the other family.
fn check_range(cidr: &tessera_server::config::Cidr, item: &CidrText) -> Result<(), String> {
    let max: u32 = if item.ip.is_ipv4() { 32 } else { 128 };
    let prefix = u32::from(item.prefix().unwrap_or(0));
    ensure!(cidr.contains(item.ip), "{cidr} lacks {}", item.ip);
    if prefix > 0 {
        let outside = with_bit_flipped(item.ip, u32::from(item.bit) % prefix);
        ensure!(!cidr.contains(outside), "{cidr} holds {outside}");
    }
    if prefix < max {
        let inside = with_bit_flipped(item.ip, prefix + u32::from(item.bit) % (max - prefix));
        ensure!(cidr.contains(inside), "{cidr} lacks {inside}");
    }
    if let IpAddr::V4(v4) = item.ip {
        let mapped = IpAddr::V6(v4.to_ipv6_mapped());
        ensure!(cidr.contains(mapped), "{cidr} lacks {mapped}");
        let v6 = IpAddr::V6(Ipv6Addr::from(u128::from(u32::from(v4)) << 64 | 1));
        ensure!(!cidr.contains(v6), "{cidr} holds {v6}");
    }
    Ok(())
}

/// Each setting loads exactly when its documented rule says, to exactly the value written
/// (durations with their units, body limits, address ranges with the addresses they hold,
/// rate-limit quotas, the hashing queue); a refusal names the setting.
#[test]
fn config_settings_load_by_their_rules() {
    fuzz::run("config_settings", 512, setting, |setting| {
        setting.check(&Config::from_toml(&setting.toml()))
    });
}

/// Every interval the loader accepts is usable: `purge_interval` drives the purge task's ticker
/// (`tokio::time::interval`, `crates/server/src/background.rs`), which panics on zero, and a
/// zero `request_timeout` (`tokio::time::timeout` in `http/middleware.rs`) turns every request
/// that awaits the store into a 503. Both must be refused at load time with a message.
#[test]
fn config_accepted_intervals_are_usable() {
    let rt = runtime();
    let generate = |g: &mut Rng| {
        let key = g.pick(&["purge_interval", "request_timeout"]);
        let unit = g.pick(&["", "s", "m", "h", "d"]);
        let value = match g.weighted(&[1, 1, 4]) {
            0 => g.pick(&[
                DurationText::Int(0),
                DurationText::Text {
                    lead: "",
                    digits: "0".into(),
                    unit,
                    trail: "",
                },
            ]),
            1 => DurationText::Int(i64::MAX),
            _ => duration_text(g),
        };
        Setting::Duration { key, value }
    };
    fuzz::run("config_intervals", 256, generate, |setting| {
        let Ok(c) = Config::from_toml(&setting.toml()) else {
            return Ok(());
        };
        let (period, timeout) = (c.purge_interval, c.request_timeout);
        let ticks = std::panic::catch_unwind(|| {
            rt.block_on(async {
                let mut ticker = tokio::time::interval(period);
                ticker.tick().await;
            });
        });
        ensure!(
            ticks.is_ok(),
            "purge_interval {period:?} was accepted but cannot tick"
        );
        ensure!(!timeout.is_zero(), "request_timeout 0 was accepted");
        Ok(())
    });
}
