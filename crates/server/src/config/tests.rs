use super::*;

fn raw() -> RawConfig {
    RawConfig::default()
}

#[test]
fn defaults_are_safe_and_local() {
    let c = Config::from_raw(raw()).unwrap();
    assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(c.data_dir, PathBuf::from("tessera-data"));
    assert_eq!(c.rotation.algorithm, Algorithm::EdDSA);
    assert!(c.cookie_secure);
    assert_eq!(c.validation.issuer(), "http://127.0.0.1:8080");
    assert_eq!(c.policy.access_ttl, Duration::from_secs(600));
}

#[test]
fn unsafe_and_inconsistent_settings_are_refused_with_advice() {
    let cases = [
        (
            RawConfig {
                cookie_secure: Some(false),
                listen: Some("0.0.0.0:8080".into()),
                behind_tls_proxy: Some(true),
                ..raw()
            },
            "cookie_secure",
        ),
        (
            RawConfig {
                algorithm: Some("HS256".into()),
                hs256_secret: Some("short".into()),
                ..raw()
            },
            "32 bytes",
        ),
        (
            RawConfig {
                hs256_secret: Some("x".repeat(40)),
                ..raw()
            },
            "algorithm",
        ),
        (
            // 64 characters of text, but 16 bytes once decoded.
            RawConfig {
                algorithm: Some("HS256".into()),
                hs256_secret: Some("hex:9f86d081884c7d659a2feaa0c55ad015".into()),
                ..raw()
            },
            "32 bytes",
        ),
        (
            RawConfig {
                algorithm: Some("none".into()),
                ..raw()
            },
            "algorithm",
        ),
        (
            RawConfig {
                listen: Some("localhost".into()),
                ..raw()
            },
            "listen",
        ),
        (
            RawConfig {
                idle_timeout: Some(duration::DurationValue::Text("1h".into())),
                absolute_timeout: Some(duration::DurationValue::Text("30m".into())),
                ..raw()
            },
            "absolute_timeout",
        ),
        (
            RawConfig {
                access_ttl: Some(duration::DurationValue::Secs(1)),
                ..raw()
            },
            "access_ttl",
        ),
        (
            RawConfig {
                admin_api_key: Some("hunter2".into()),
                ..raw()
            },
            "tsk_",
        ),
        (
            RawConfig {
                max_body_bytes: Some(10),
                ..raw()
            },
            "max_body_bytes",
        ),
        (
            RawConfig {
                log_format: Some("xml".into()),
                ..raw()
            },
            "log_format",
        ),
        (
            RawConfig {
                on_session_limit: Some("ask".into()),
                max_sessions_per_user: Some(2),
                ..raw()
            },
            "on_session_limit",
        ),
        (
            RawConfig {
                key_rotation_interval: Some(duration::DurationValue::Text("10m".into())),
                ..raw()
            },
            "key_rotation_interval",
        ),
    ];
    for (raw, needle) in cases {
        let err = Config::from_raw(raw.clone()).unwrap_err();
        assert!(err.contains(needle), "{raw:?}: {err}");
    }
}

#[test]
fn insecure_cookies_are_fine_on_loopback_and_hs256_with_a_long_secret() {
    let c = Config::from_raw(RawConfig {
        cookie_secure: Some(false),
        ..raw()
    })
    .unwrap();
    assert!(!c.cookie_secure);
    let c = Config::from_raw(RawConfig {
        algorithm: Some("HS256".into()),
        hs256_secret: Some("3x!Vq9#pL2@mZ7$rT4%wK8^bN1&cH6*j".into()),
        ..raw()
    })
    .unwrap();
    assert!(c.hs256_secret.is_some());
}

#[test]
fn flags_beat_env_beat_file() {
    let dir = std::env::temp_dir().join(format!("tessera-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("tessera.toml");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:1111\"\naudience = \"file\"\nissuer = \"https://file\"\n",
    )
    .unwrap();
    let env = vec![
        ("TESSERA_LISTEN".to_owned(), "127.0.0.1:2222".to_owned()),
        ("TESSERA_AUDIENCE".to_owned(), "env".to_owned()),
    ];
    let flags = RawConfig {
        listen: Some("127.0.0.1:3333".into()),
        ..raw()
    };
    let c = Config::load(Some(file), env, flags).unwrap();
    assert_eq!(c.listen.to_string(), "127.0.0.1:3333");
    assert_eq!(c.validation.audience(), "env");
    assert_eq!(c.validation.issuer(), "https://file");
}

#[test]
fn trusted_proxies_parse_from_lists_and_comma_strings() {
    let c = Config::load(
        None,
        vec![
            ("TESSERA_TRUSTED_PROXIES".into(), "10.0.0.0/8, ::1".into()),
            ("TESSERA_FORWARDED_HEADER".into(), "forwarded".into()),
        ],
        raw(),
    )
    .unwrap();
    assert_eq!(c.trusted_proxies.ranges().len(), 2);
    assert_eq!(c.trusted_proxies.header(), ForwardedHeader::Forwarded);
    let c = Config::from_toml(
        "trusted_proxies = [\"192.168.0.0/16\"]\nforwarded_header = \"X-Forwarded-For\"",
    )
    .unwrap();
    assert!(c.trusted_proxies.trusts("192.168.4.4".parse().unwrap()));
    assert_eq!(c.trusted_proxies.header(), ForwardedHeader::XForwardedFor);
    let err =
        Config::from_toml("trusted_proxies = [\"10.0.0.0/99\"]\nforwarded_header = \"forwarded\"")
            .unwrap_err();
    assert!(err.contains("trusted_proxies"), "{err}");
    assert!(Config::from_toml("").unwrap().trusted_proxies.is_empty());
}

/// A proxy passes on the forwarding header it does not write as the client sent it: which one
/// it writes must be said, or a client behind it could name its own address.
#[test]
fn trusted_proxies_need_the_header_they_write() {
    let err = Config::from_toml("trusted_proxies = [\"10.0.0.0/8\"]").unwrap_err();
    assert!(
        err.contains("forwarded_header") && err.contains("x-forwarded-for"),
        "{err}"
    );
    let err = Config::from_toml("forwarded_header = \"forwarded\"").unwrap_err();
    assert!(err.contains("trusted_proxies"), "{err}");
    let err =
        Config::from_toml("trusted_proxies = [\"10.0.0.0/8\"]\nforwarded_header = \"x-real-ip\"")
            .unwrap_err();
    assert!(
        err.contains("forwarded_header") && err.contains("x-real-ip"),
        "{err}"
    );
}

#[test]
fn tls_settings_come_in_pairs_and_public_addresses_need_tls_or_a_proxy() {
    assert!(
        Config::from_toml("tls_cert = \"c.pem\"")
            .unwrap_err()
            .contains("both")
    );
    let c =
        Config::from_toml("tls_cert = \"c.pem\"\ntls_key = \"k.pem\"\nlisten = \"0.0.0.0:443\"")
            .unwrap();
    assert!(c.tls.is_some());
    assert!(
        Config::from_toml("listen = \"0.0.0.0:80\"")
            .unwrap_err()
            .contains("refusing")
    );
    assert!(Config::from_toml("listen = \"0.0.0.0:80\"\nbehind_tls_proxy = true").is_ok());
}

#[test]
fn feed_staleness_is_bounded() {
    for bad in ["0s", "0", "2h"] {
        let err = Config::from_toml(&format!("feed_staleness = \"{bad}\"")).unwrap_err();
        assert!(err.contains("feed_staleness"), "{bad}: {err}");
    }
    let ok = Config::from_toml("feed_staleness = \"30s\"").unwrap();
    assert_eq!(ok.feed_staleness, Duration::from_secs(30));
}

#[test]
fn sign_in_defaults_keep_todays_budgets_and_close_sign_up() {
    let c = Config::from_raw(raw()).unwrap().sign_in;
    assert!(!c.signup_open, "sign-up is closed unless opened");
    let hour = Duration::from_secs(3600);
    let q = |q: Option<tessera::Quota>| q.map(|q| (q.rate(), q.period(), q.burst()));
    assert_eq!(
        q(c.per_account),
        Some((20, hour, 5)),
        "5, then one every 3 minutes"
    );
    assert_eq!(q(c.per_client), Some((100, hour, 30)));
    assert_eq!((c.hash_queue, c.hash_wait), (8, Duration::from_secs(2)));
}

#[test]
fn sign_in_settings_parse_and_refuse_nonsense() {
    let c = Config::from_toml(
        "signup = \"open\"\nsignin_account_limit = \"10/m:3\"\nsignin_device_limit = \"off\"\n\
         password_hash_queue = 2\npassword_hash_wait = \"500ms\"\n",
    );
    assert!(
        c.unwrap_err().contains("password_hash_wait"),
        "ms is no unit here"
    );
    let c = Config::from_toml(
        "signup = \"open\"\nsignin_account_limit = \"10/m:3\"\nsignin_device_limit = \"off\"\n\
         password_hash_queue = 2\npassword_hash_wait = \"1s\"\n",
    )
    .unwrap()
    .sign_in;
    assert!(c.signup_open);
    assert_eq!(c.per_account.map(|q| q.burst()), Some(3));
    assert!(c.per_device.is_none());
    assert_eq!((c.hash_queue, c.hash_wait), (2, Duration::from_secs(1)));
    for (toml, needle) in [
        ("signup = \"maybe\"", "signup"),
        ("signin_client_limit = \"lots\"", "signin_client_limit"),
        ("password_hash_queue = 0", "password_hash_queue"),
        ("password_hash_wait = \"0s\"", "password_hash_wait"),
    ] {
        let err = Config::from_toml(toml).unwrap_err();
        assert!(err.contains(needle), "{toml}: {err}");
    }
}

#[test]
fn key_encryption_keys_are_required_on_shared_stores_and_must_be_random() {
    let kek = tessera::KeyEncryptionKey::generate().unwrap().expose();
    let err = Config::from_toml("store = \"redis://127.0.0.1:6379/\"").unwrap_err();
    assert!(err.contains("key_encryption_key is required"), "{err}");
    let ok = Config::from_toml(&format!(
        "store = \"redis://127.0.0.1:6379/\"\nkey_encryption_key = \"{kek}\"\n\
         previous_key_encryption_keys = [\"{kek}\"]"
    ))
    .unwrap();
    assert!(ok.key_encryption_key.is_some());
    assert_eq!(ok.previous_key_encryption_keys.len(), 1);
    for bad in ["short", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"] {
        let err = Config::from_toml(&format!("key_encryption_key = \"{bad}\"")).unwrap_err();
        assert!(err.contains("key_encryption_key"), "{err}");
    }
    assert!(
        Config::from_raw(raw())
            .unwrap()
            .key_encryption_key
            .is_none(),
        "a file on SQLite"
    );
    let err = Config::from_toml("metrics_listen = \"nowhere\"").unwrap_err();
    assert!(err.contains("metrics_listen"), "{err}");
}

#[test]
fn an_ephemeral_port_is_named_once_bound() {
    let bound: SocketAddr = "127.0.0.1:40123".parse().unwrap();
    let c = Config::from_raw(RawConfig {
        listen: Some("127.0.0.1:0".into()),
        ..raw()
    })
    .unwrap()
    .bound_to(bound);
    assert_eq!(c.validation.issuer(), "http://127.0.0.1:40123");
    assert_eq!(c.public_origin, "http://127.0.0.1:40123");
    let chosen = Config::from_raw(RawConfig {
        listen: Some("127.0.0.1:0".into()),
        issuer: Some("https://auth.example".into()),
        public_origin: Some("https://auth.example".into()),
        ..raw()
    })
    .unwrap()
    .bound_to(bound);
    assert_eq!(
        chosen.validation.issuer(),
        "https://auth.example",
        "a chosen issuer stays"
    );
    assert_eq!(chosen.public_origin, "https://auth.example");
    let fixed = Config::from_raw(RawConfig {
        listen: Some("127.0.0.1:8080".into()),
        ..raw()
    })
    .unwrap()
    .bound_to(bound);
    assert_eq!(
        fixed.validation.issuer(),
        "http://127.0.0.1:8080",
        "a fixed port is as given"
    );
}

#[test]
fn store_urls_never_show_their_credentials() {
    let kek = tessera::KeyEncryptionKey::generate().unwrap().expose();
    let config = Config::from_toml(&format!(
        "store = \"postgres://tessera:hunter2@db.internal/tessera?sslrootcert=/ca.pem&password=hunter3\"\nkey_encryption_key = \"{kek}\""
    ))
    .unwrap();
    let shown = format!("{config:?}");
    assert!(
        !shown.contains("hunter2") && !shown.contains("hunter3"),
        "{shown}"
    );
    assert!(shown.contains("postgres://***@db.internal/tessera?sslrootcert=/ca.pem&password=***"));
    let redis = Config::from_toml(&format!(
        "store = \"redis://:s3cret@127.0.0.1:6379/0\"\nkey_encryption_key = \"{kek}\""
    ))
    .unwrap();
    assert!(!format!("{redis:?}").contains("s3cret"));
}

#[test]
fn a_cluster_over_tls_gives_each_node_the_scheme_and_the_authority() {
    let dir = std::path::Path::new("/data");
    assert_eq!(
        store_url(
            Some("rediss+cluster://a:7000, b:7001?tls_ca=/etc/redis-ca.pem"),
            dir
        ),
        Ok(StoreUrl::RedisCluster(vec![
            "rediss://a:7000?tls_ca=/etc/redis-ca.pem".into(),
            "rediss://b:7001?tls_ca=/etc/redis-ca.pem".into(),
        ]))
    );
    assert_eq!(
        store_url(Some("redis+cluster://a:7000,b:7001"), dir),
        Ok(StoreUrl::RedisCluster(vec![
            "redis://a:7000".into(),
            "redis://b:7001".into()
        ]))
    );
    assert!(store_url(Some("rediss+cluster://"), dir).is_err());
    assert_eq!(
        store_url(Some("redis+cluster://app:s3cret@a:7000,b:7001"), dir),
        Ok(StoreUrl::RedisCluster(vec![
            "redis://app:s3cret@a:7000".into(),
            "redis://app:s3cret@b:7001".into()
        ])),
        "the credentials are the Cluster's, for every node"
    );
    assert_eq!(
        store_url(Some("redis+cluster://app:one@a:7000,app:two@b:7001"), dir),
        Ok(StoreUrl::RedisCluster(vec![
            "redis://app:one@a:7000".into(),
            "redis://app:two@b:7001".into()
        ])),
        "a node's own credentials are its own"
    );
    for typo in [
        "rediss+clustr://app:s3cret@a:7000",
        "redis:app:s3cret@a:7000",
    ] {
        let refused = store_url(Some(typo), dir).unwrap_err();
        assert!(!refused.contains("s3cret"), "{refused}");
    }
}
