//! Where the store connects: `redis://` in the clear, or `rediss://` over TLS, trusting the
//! system's certificate authorities or those named by `tls_ca=PATH` (PEM).

use std::sync::Arc;
use std::time::Duration;

use redis::cluster::ClusterClientBuilder;
use redis::{IntoConnectionInfo, ProtocolVersion, TlsCertificates};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tessera::{StoreError, StoreErrorKind};

use crate::codec::redis_error;

/// A server's address as the client takes it, and the PEM of the authorities it is trusted
/// through (`None`: the system's).
#[derive(Clone)]
pub(crate) struct Address {
    url: String,
    ca: Option<Arc<[u8]>>,
}

fn invalid(message: String) -> StoreError {
    StoreError::new(StoreErrorKind::Other, message)
}

impl Address {
    /// `url` with its query, Tessera's `tls_ca=PATH`, taken out and read.
    ///
    /// # Errors
    /// A `tls_ca` on a URL that is not `rediss://`, one that cannot be read or holds no
    /// certificate, any other query parameter, or a fragment (`#insecure` would turn
    /// certificate checks off).
    pub(crate) fn parse(url: &str) -> Result<Self, StoreError> {
        if url.contains('#') {
            return Err(invalid(
                "Redis URL: a fragment (#insecure) would turn certificate checks off, which \
                 Tessera refuses; name the certificate authority to trust with tls_ca=PATH"
                    .into(),
            ));
        }
        let (url, query) = url.split_once('?').unwrap_or((url, ""));
        let mut ca_file = None;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("tls_ca", path)) => ca_file = Some(path),
                // Passed on, a misspelt tls_ca would be ignored, and the system's
                // authorities trusted instead of the one named.
                _ => {
                    return Err(invalid(format!(
                        "Redis URL: unknown parameter {:?}; the only one is tls_ca=PATH",
                        pair.split('=').next().unwrap_or_default()
                    )));
                }
            }
        }
        let url = url.to_owned();
        let ca = match ca_file {
            None => None,
            Some(_) if !url.starts_with("rediss://") => {
                return Err(invalid(
                    "Redis URL: tls_ca names the authority a TLS connection trusts; use \
                     rediss:// for TLS"
                        .into(),
                ));
            }
            Some(file) => Some(read_ca(file)?),
        };
        Ok(Self { url, ca })
    }

    fn certificates(&self) -> Option<TlsCertificates> {
        self.ca.as_ref().map(|pem| TlsCertificates {
            client_tls: None,
            root_cert: Some(pem.to_vec()),
        })
    }

    /// A client for this server (RESP3 for one that hears pushes).
    pub(crate) fn client(&self, protocol: ProtocolVersion) -> Result<redis::Client, StoreError> {
        let mut info = self
            .url
            .as_str()
            .into_connection_info()
            .map_err(redis_error)?;
        info.redis.protocol = protocol;
        match self.certificates() {
            Some(certs) => redis::Client::build_with_tls(info, certs),
            None => redis::Client::open(info),
        }
        .map_err(redis_error)
    }
}

/// A Cluster's nodes, each as [`Address::parse`] takes it; they trust the same authorities.
#[derive(Clone)]
pub(crate) struct Nodes(Arc<[Address]>);

impl Nodes {
    /// # Errors
    /// As [`Address::parse`], or when the nodes are not all reached the same way (all
    /// `redis://`, or all `rediss://` with the same `tls_ca`).
    pub(crate) fn parse(nodes: &[String]) -> Result<Self, StoreError> {
        let nodes = nodes
            .iter()
            .map(|n| Address::parse(n))
            .collect::<Result<Vec<_>, _>>()?;
        // The client takes TLS, and the authorities, from the first node for all of them.
        let tls = |n: &Address| n.url.starts_with("rediss://");
        if nodes
            .windows(2)
            .any(|w| w[0].ca != w[1].ca || tls(&w[0]) != tls(&w[1]))
        {
            return Err(invalid(
                "Redis Cluster: every node must be reached the same way: all rediss:// (with the \
                 same tls_ca) or all redis://"
                    .into(),
            ));
        }
        Ok(Self(nodes.into()))
    }

    /// A client builder for the Cluster, with its authorities, and the timeouts and retries
    /// of every connection the store opens to it.
    pub(crate) fn builder(&self) -> ClusterClientBuilder {
        let builder = ClusterClientBuilder::new(self.0.iter().map(|n| n.url.clone()))
            .connection_timeout(Duration::from_millis(500))
            .response_timeout(Duration::from_secs(2))
            // Redirects use up retries too: a script sent to a slot being moved is sent on
            // (`ASK`) and refused there (`TRYAGAIN`) before the store answers unavailable.
            // Waits are short (10 to 80 ms), so that a call to a master that died (or a
            // subscription to its channels) fails within about two seconds, not minutes.
            .retries(3)
            .min_retry_wait(10)
            .max_retry_wait(80);
        match self.0.first().and_then(Address::certificates) {
            Some(certs) => builder.certs(certs),
            None => builder,
        }
    }
}

/// The PEM in `file`, once checked to hold at least one certificate.
fn read_ca(file: &str) -> Result<Arc<[u8]>, StoreError> {
    let bad = |e: String| invalid(format!("Redis URL: tls_ca {file}: {e}"));
    let pem = std::fs::read(file).map_err(|e| bad(e.to_string()))?;
    let mut certificates = 0;
    for cert in CertificateDer::pem_slice_iter(&pem) {
        cert.map_err(|e| bad(e.to_string()))?;
        certificates += 1;
    }
    if certificates == 0 {
        return Err(bad("no certificate in it".into()));
    }
    Ok(pem.into())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    fn refused(url: &str) -> String {
        Address::parse(url)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn tls_ca_is_taken_out_of_the_query_and_read() {
        let dir = std::env::temp_dir().join(format!("tessera-tls-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let a = Address::parse("rediss://h:6380/2").unwrap();
        assert_eq!(
            (a.url.as_str(), a.ca.is_none()),
            ("rediss://h:6380/2", true)
        );
        assert!(refused("rediss://h:6380/?TLS_CA=/x.pem").contains("unknown parameter \"TLS_CA\""));
        let mixed = Nodes::parse(&["rediss://a:1".into(), "redis://b:2".into()]);
        assert!(mixed.is_err(), "a node in the clear among TLS ones");
        assert!(refused("redis://h:6379/?tls_ca=/x.pem").contains("use rediss://"));
        assert!(refused("rediss://h:6380/#insecure").contains("#insecure"));
        assert!(refused("rediss://h:6380/?tls_ca=/no/such/file.pem").contains("/no/such/file.pem"));
        let url = format!("rediss://h:6380/?tls_ca={}", empty.display());
        assert!(refused(&url).contains("no certificate"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
