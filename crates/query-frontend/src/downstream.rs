//! The downstream (a querier): one HTTP client, requests retried on
//! connection failures and 5xx answers (Cortex's `RetryMiddleware`: 4xx are
//! the caller's fault and returned at once).

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};

/// An answer from the downstream, whatever its status.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

/// The downstream did not answer (after all attempts).
#[derive(Debug, thiserror::Error)]
#[error("downstream {url} did not answer after {attempts} attempt(s)")]
pub(crate) struct Unreachable {
    pub(crate) url: String,
    pub(crate) attempts: u32,
    #[source]
    pub(crate) source: reqwest::Error,
}

/// The downstream's base URL and client.
#[derive(Debug, Clone)]
pub(crate) struct Downstream {
    base: String,
    client: reqwest::Client,
}

impl Downstream {
    pub(crate) fn new(base: &str) -> reqwest::Result<Self> {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(100)
            .connect_timeout(Duration::from_secs(10))
            .build()?;
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            client,
        })
    }

    /// The URL of `path_and_query` (`/api/v1/query?…`) on the downstream.
    pub(crate) fn url(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.base)
    }

    /// One request; `Err` only when no answer came.
    pub(crate) async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        headers: HeaderMap,
        body: Bytes,
    ) -> reqwest::Result<Answer> {
        let resp = self
            .client
            .request(method, self.url(path_and_query))
            .headers(headers)
            .body(body)
            .send()
            .await?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.bytes().await?;
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    /// [`Downstream::send`] up to `attempts` times while the answer is a
    /// 5xx or none came; the last 5xx answer is returned as it is.
    pub(crate) async fn send_with_retries(
        &self,
        method: Method,
        path_and_query: &str,
        headers: HeaderMap,
        body: Bytes,
        attempts: u32,
        retries: &prometheus_client::metrics::counter::Counter,
    ) -> Result<Answer, Unreachable> {
        let attempts = attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self
                .send(
                    method.clone(),
                    path_and_query,
                    headers.clone(),
                    body.clone(),
                )
                .await
            {
                Ok(a) if a.status.is_server_error() && attempt < attempts => {
                    tracing::debug!(status = %a.status, attempt, "downstream 5xx, retrying");
                }
                Ok(a) => return Ok(a),
                Err(e) if attempt < attempts => {
                    tracing::debug!(error = %e, attempt, "downstream unreachable, retrying");
                }
                Err(source) => {
                    return Err(Unreachable {
                        url: self.url(path_and_query.split('?').next().unwrap_or_default()),
                        attempts,
                        source,
                    });
                }
            }
            retries.inc();
        }
    }
}
