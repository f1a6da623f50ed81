//! Fetching from SNS: the signing certificate, and the `SubscribeURL` that confirms a
//! subscription. A seam ([`Fetch`]) so tests supply certificates without a network; the real
//! one is [`HttpsFetcher`] (hyper over tokio-rustls, system roots, bounded response).

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use http_body_util::{BodyExt as _, Empty, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use url::Url;

/// Longest a fetch may take.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Largest response read (a certificate is ~2 KiB, a confirmation ~1 KiB).
const MAX_RESPONSE: usize = 64 * 1024;

/// The future of a fetch: the body of a 200 response, or why not.
pub type Fetched<'a> = Pin<Box<dyn Future<Output = Result<Vec<u8>, String>> + Send + 'a>>;

/// GETs an https URL (already checked to be on an SNS host).
pub trait Fetch: Send + Sync {
    /// The body of a successful GET of `url`.
    fn get<'a>(&'a self, url: &'a Url) -> Fetched<'a>;
}

/// The real fetcher: HTTPS/1.1 with the system's roots.
#[derive(Clone)]
pub struct HttpsFetcher {
    connector: tokio_rustls::TlsConnector,
}

impl HttpsFetcher {
    /// A fetcher trusting the system's certificate authorities.
    pub fn new() -> Result<Self, String> {
        Ok(Self { connector: crate::mail::smtp::connector(None).map_err(|e| e.to_string())? })
    }

    async fn fetch(&self, url: &Url) -> Result<Vec<u8>, String> {
        let host = url.host_str().ok_or("no host")?.to_owned();
        let port = url.port_or_known_default().unwrap_or(443);
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port)).await.map_err(|e| e.to_string())?;
        let name = ServerName::try_from(host.clone()).map_err(|_| "not a TLS server name".to_owned())?;
        let tls = self.connector.connect(name, tcp).await.map_err(|e| format!("TLS: {e}"))?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(tls)).await.map_err(|e| e.to_string())?;
        let driver = tokio::spawn(connection);
        let path = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        };
        let request = hyper::Request::get(path)
            .header(hyper::header::HOST, host)
            .header(hyper::header::USER_AGENT, concat!("letterpress/", env!("CARGO_PKG_VERSION")))
            .body(Empty::<Bytes>::new())
            .map_err(|e| e.to_string())?;
        let response = sender.send_request(request).await.map_err(|e| e.to_string())?;
        let status = response.status();
        let body = Limited::new(response.into_body(), MAX_RESPONSE)
            .collect()
            .await
            .map_err(|e| format!("reading the response: {e}"))?
            .to_bytes();
        driver.abort();
        if !status.is_success() {
            return Err(format!("HTTP {status}"));
        }
        Ok(body.to_vec())
    }
}

impl Fetch for HttpsFetcher {
    fn get<'a>(&'a self, url: &'a Url) -> Fetched<'a> {
        Box::pin(
            async move { tokio::time::timeout(TIMEOUT, self.fetch(url)).await.map_err(|_| "timed out".to_owned())? },
        )
    }
}
