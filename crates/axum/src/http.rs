//! A small HTTP/1.1 client for remote mode: GET requests to one Tessera origin over one kept-alive
//! connection (plain HTTP, or TLS verified against a CA bundle), each bounded in time and size.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{Request, StatusCode, header};
use http_body_util::{BodyExt, Empty, Limited};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tessera::{Error, StoreError, StoreErrorKind};
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tokio_rustls::TlsConnector;

/// The longest a request may take, connecting included.
const TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer read (a JWKS or a page of the feed).
const MAX_BODY: usize = 1 << 20;

/// Where Tessera is, and how to reach it.
pub(crate) struct Client {
    host: String,
    port: u16,
    /// The `Host` header: `host[:port]`, IPv6 in brackets.
    authority: String,
    tls: Option<(TlsConnector, ServerName<'static>)>,
    conn: Mutex<Option<SendRequest<Empty<Bytes>>>>,
}

/// A failure to reach Tessera: an outage, never a verdict on a token.
fn unreachable(why: impl std::fmt::Display) -> Error {
    Error::Store(StoreError::new(
        StoreErrorKind::Unavailable,
        format!("tessera unreachable: {why}"),
    ))
}

impl Client {
    /// A client for `base` (`https://auth.example` or `http://127.0.0.1:8080`). HTTPS servers
    /// are verified against the PEM certificates of `ca_file`.
    pub(crate) fn new(base: &str, ca_file: &Path) -> Result<Self, Error> {
        let bad = || Error::InvalidConfig(format!("{base:?} is not an http(s)://host[:port] URL"));
        let (scheme, rest) = base
            .trim_end_matches('/')
            .split_once("://")
            .ok_or_else(bad)?;
        if rest.contains(['/', '?', '#', '@']) {
            return Err(bad());
        }
        let default_port = match scheme {
            "https" => 443,
            "http" => 80,
            _ => return Err(bad()),
        };
        let (host, port) = host_port(rest, default_port).ok_or_else(bad)?;
        if scheme == "http" && !crate::is_loopback_host(&host) {
            // Keys and the feed over plain HTTP could be answered by anyone on the path.
            return Err(Error::InvalidConfig(format!(
                "{base:?}: plain http only to this machine; reach Tessera over https"
            )));
        }
        let tls = if scheme == "https" {
            let name = ServerName::try_from(host.clone()).map_err(|_| bad())?;
            Some((connector(ca_file)?, name))
        } else {
            None
        };
        let bracketed = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.clone()
        };
        let authority = if port == default_port {
            bracketed
        } else {
            format!("{bracketed}:{port}")
        };
        Ok(Self {
            host,
            port,
            authority,
            tls,
            conn: Mutex::new(None),
        })
    }

    /// `GET path` with `Authorization: Bearer key`: the status and body.
    pub(crate) async fn get(&self, path: &str, key: &str) -> Result<(StatusCode, Bytes), Error> {
        tokio::time::timeout(TIMEOUT, self.try_get(path, key))
            .await
            .map_err(|_| unreachable("timed out"))?
    }

    async fn try_get(&self, path: &str, key: &str) -> Result<(StatusCode, Bytes), Error> {
        let mut conn = self.conn.lock().await;
        let mut sender = match conn.take() {
            Some(s) if s.is_ready() => s,
            _ => self.connect().await?,
        };
        let req = Request::get(path)
            .header(header::HOST, &self.authority)
            .header(header::AUTHORIZATION, format!("Bearer {key}"))
            .body(Empty::<Bytes>::new())
            .map_err(|_| Error::InvalidInput("request path"))?;
        let res = sender.send_request(req).await.map_err(unreachable)?;
        let status = res.status();
        let body = Limited::new(res.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(unreachable)?
            .to_bytes();
        *conn = Some(sender);
        Ok((status, body))
    }

    async fn connect(&self) -> Result<SendRequest<Empty<Bytes>>, Error> {
        let tcp = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(unreachable)?;
        let _ = tcp.set_nodelay(true);
        match &self.tls {
            Some((connector, name)) => {
                let stream = connector
                    .connect(name.clone(), tcp)
                    .await
                    .map_err(unreachable)?;
                handshake(TokioIo::new(stream)).await
            }
            None => handshake(TokioIo::new(tcp)).await,
        }
    }
}

/// `host[:port]` or `[v6][:port]`: the host (without brackets) and the port.
fn host_port(authority: &str, default_port: u16) -> Option<(String, u16)> {
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        (host, after)
    } else {
        let colon = authority.find(':').unwrap_or(authority.len());
        authority.split_at(colon)
    };
    let port = match port.strip_prefix(':') {
        Some(digits) => digits.parse().ok().filter(|&p| p > 0)?,
        None if port.is_empty() => default_port,
        None => return None,
    };
    (!host.is_empty()).then(|| (host.to_owned(), port))
}

async fn handshake<T>(io: TokioIo<T>) -> Result<SendRequest<Empty<Bytes>>, Error>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = http1::handshake(io).await.map_err(unreachable)?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "connection to tessera closed");
        }
    });
    Ok(sender)
}

/// TLS that trusts the certificates of `ca_file` only.
fn connector(ca_file: &Path) -> Result<TlsConnector, Error> {
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(ca_file).map_err(|e| {
        Error::InvalidConfig(format!(
            "cannot read CA certificates {}: {e}",
            ca_file.display()
        ))
    })?;
    for cert in certs {
        let cert = cert.map_err(|e| Error::InvalidConfig(format!("{}: {e}", ca_file.display())))?;
        let _ = roots.add(cert);
    }
    if roots.is_empty() {
        return Err(Error::InvalidConfig(format!(
            "no CA certificate in {}",
            ca_file.display()
        )));
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| Error::InvalidConfig(format!("TLS: {e}")))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

#[cfg(test)]
mod tests {
    use super::host_port;

    #[test]
    fn authorities_split_into_host_and_port() {
        for (text, host, port) in [
            ("auth.example", "auth.example", 443),
            ("auth.example:8443", "auth.example", 8443),
            ("127.0.0.1:8080", "127.0.0.1", 8080),
            ("[::1]", "::1", 443),
            ("[::1]:8080", "::1", 8080),
        ] {
            assert_eq!(
                host_port(text, 443),
                Some((host.to_owned(), port)),
                "{text}"
            );
        }
        for bad in [
            "", ":80", "a:b", "a:0", "a:99999", "[::1", "[::1]x", "a:1:2",
        ] {
            assert_eq!(host_port(bad, 443), None, "{bad}");
        }
    }
}
