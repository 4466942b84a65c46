//! The transport as `object_store`'s HTTP client (Azure blobs, GCS credentials).
//!
//! Throttling and server errors (429, 5xx) come back as an [`HttpError`] whose source is a
//! [`ServerStatus`], and transport failures as one whose source is a [`TransportError`]: the
//! backends find either in the error chain and classify the failure as transient, so that
//! [`crate::InstrumentedBucket`] retries it (object_store's own retries are off).

use std::sync::Arc;

use async_trait::async_trait;
use http_body_util::BodyExt;
use object_store::ClientOptions;
use object_store::client::{
    HttpClient, HttpConnector, HttpError, HttpErrorKind, HttpRequest, HttpRequestBody,
    HttpResponse, HttpResponseBody, HttpService,
};

use super::{Transport, TransportError};

/// How much of an error response body is kept for the message.
const ERROR_BODY_LIMIT: usize = 4096;

/// A 429 or 5xx answer, with the start of its body.
#[derive(Debug, thiserror::Error)]
#[error("HTTP {status}: {body}")]
pub(crate) struct ServerStatus {
    pub(crate) status: http::StatusCode,
    body: String,
}

/// `object_store` connector over a shared transport.
#[derive(Debug, Clone)]
pub(crate) struct Connector(pub(crate) Arc<Transport<HttpRequestBody>>);

impl HttpConnector for Connector {
    fn connect(&self, _options: &ClientOptions) -> object_store::Result<HttpClient> {
        Ok(HttpClient::new(self.clone()))
    }
}

#[async_trait]
impl HttpService for Connector {
    async fn call(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        let response = self.0.send(req).await.map_err(http_error)?;
        let status = response.status();
        if status == http::StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            let body = response
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let end = body.len().min(ERROR_BODY_LIMIT);
            let body = String::from_utf8_lossy(&body[..end]).into_owned();
            return Err(HttpError::new(
                HttpErrorKind::Request,
                ServerStatus { status, body },
            ));
        }
        Ok(response.map(|b| {
            HttpResponseBody::new(b.map_err(|e| HttpError::new(HttpErrorKind::Interrupted, e)))
        }))
    }
}

fn http_error(e: TransportError) -> HttpError {
    let kind = if e.is_timeout() {
        HttpErrorKind::Timeout
    } else if e.is_connect() {
        HttpErrorKind::Connect
    } else {
        HttpErrorKind::Request
    };
    HttpError::new(kind, e)
}

/// Whether `e`'s chain holds a transport failure or a throttling/server error.
pub(crate) fn is_transient(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if err.is::<TransportError>() || err.is::<ServerStatus>() || err.is::<hyper::Error>() {
            return true;
        }
        cur = err.source();
    }
    false
}
