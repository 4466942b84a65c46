//! `GCS` backend: Google Cloud Storage's JSON API (what Thanos's Go client speaks), on the
//! objstore HTTP transport.
//!
//! Objects up to one chunk (`chunk_size_bytes`, 16 MiB by default) are written with a single
//! media upload; larger ones with a resumable upload in chunks, which GCS only publishes after
//! the last chunk, so readers never see a partial object. Reads are `alt=media` GETs with a
//! `Range` header. Credentials (service account JSON, application default credentials, the
//! metadata server) come from `object_store`'s GCP token providers, which run on the same
//! transport; `STORAGE_EMULATOR_HOST` switches to an emulator without authentication.
//! `object_store`'s own GCS client is not used: it speaks the XML API, which emulators such as
//! fake-gcs-server only partly implement.

mod api;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use object_store::RetryConfig;
use object_store::client::HttpRequestBody;
use object_store::gcp::{GcpCredentialProvider, GoogleCloudStorageBuilder};

use self::api::Api;
use crate::bucket::{Bucket, ListMode, ObjectAttributes, validate_key};
use crate::config::GcsConfig;
use crate::error::{Error, Result};
use crate::http::{Transport, chain, service};

/// Google's public endpoint.
const GCS_BASE_URL: &str = "https://storage.googleapis.com";

/// Thanos `type: GCS` bucket.
#[derive(Debug, Clone)]
pub struct GcsBucket {
    api: Arc<Api>,
}

/// The base URL of `STORAGE_EMULATOR_HOST` (`host:port` → `http://host:port`).
fn emulator_base_url(value: Option<&str>) -> Option<String> {
    let v = value?.trim().trim_end_matches('/');
    if v.is_empty() {
        None
    } else if v.contains("://") {
        Some(v.to_owned())
    } else {
        Some(format!("http://{v}"))
    }
}

impl GcsBucket {
    /// Builds the client; `STORAGE_EMULATOR_HOST` (as with Google's libraries) selects an
    /// emulator without authentication.
    pub async fn new(cfg: &GcsConfig) -> Result<Self> {
        let emulator = emulator_base_url(std::env::var("STORAGE_EMULATOR_HOST").ok().as_deref());
        Self::with_endpoint(cfg, emulator.as_deref())
    }

    /// Like [`GcsBucket::new`] with an explicit emulator base URL (`None` = Google with
    /// credentials).
    pub fn with_endpoint(cfg: &GcsConfig, emulator: Option<&str>) -> Result<Self> {
        let origin = "GCS config";
        let transport = Arc::new(Transport::<HttpRequestBody>::new(&cfg.http_config, origin)?);
        let credentials = match emulator {
            Some(_) => None,
            None => Some(credentials(cfg, &transport)?),
        };
        Ok(Self {
            api: Arc::new(Api {
                transport,
                credentials,
                base_url: emulator
                    .unwrap_or(GCS_BASE_URL)
                    .trim_end_matches('/')
                    .to_owned(),
                bucket: cfg.bucket.clone(),
                chunk_size: cfg.effective_chunk_size(),
            }),
        })
    }
}

/// The token provider: inline `service_account`, else application default credentials
/// (`GOOGLE_APPLICATION_CREDENTIALS`, gcloud's file), else the metadata server.
fn credentials(
    cfg: &GcsConfig,
    transport: &Arc<Transport<HttpRequestBody>>,
) -> Result<GcpCredentialProvider> {
    let mut b = GoogleCloudStorageBuilder::new()
        .with_bucket_name(&cfg.bucket)
        .with_http_connector(service::Connector(transport.clone()))
        .with_retry(RetryConfig {
            max_retries: 0,
            ..RetryConfig::default()
        });
    if !cfg.service_account.is_empty() {
        b = b.with_service_account_key(&cfg.service_account);
    } else if let Some(path) = std::env::var("GOOGLE_APPLICATION_CREDENTIALS")
        .ok()
        .filter(|p| !p.is_empty())
    {
        b = b.with_application_credentials(path);
    }
    let store = b.build().map_err(|e| {
        Error::config(
            "GCS config",
            format!("loading Google credentials: {}", chain(&e)),
        )
    })?;
    Ok(store.credentials().clone())
}

#[async_trait]
impl Bucket for GcsBucket {
    fn name(&self) -> &str {
        &self.api.bucket
    }

    async fn get(&self, key: &str) -> Result<Bytes> {
        validate_key(key)?;
        self.api.get(key, None).await
    }

    async fn get_range(&self, key: &str, offset: u64, len: u64) -> Result<Bytes> {
        validate_key(key)?;
        let past_end = |size: u64| {
            if offset > size {
                Err(Error::InvalidRange {
                    bucket: self.api.bucket.clone(),
                    key: key.to_owned(),
                    offset,
                    size,
                })
            } else {
                Ok(Bytes::new())
            }
        };
        if len == 0 {
            return past_end(self.api.attributes(key).await?.size);
        }
        match self.api.get(key, Some((offset, len))).await {
            Err(Error::InvalidRange { .. }) => past_end(self.api.attributes(key).await?.size),
            other => other,
        }
    }

    async fn attributes(&self, key: &str) -> Result<ObjectAttributes> {
        validate_key(key)?;
        self.api.attributes(key).await
    }

    async fn upload(&self, key: &str, data: Bytes) -> Result<()> {
        validate_key(key)?;
        self.api.upload(key, api::Source::Bytes(data)).await
    }

    async fn upload_file(&self, key: &str, path: &Path) -> Result<u64> {
        validate_key(key)?;
        let size = tokio::fs::metadata(path)
            .await
            .map_err(|e| Error::local_io(crate::Operation::Upload, key, path, e))?
            .len();
        self.api
            .upload(key, api::Source::File { path, size })
            .await?;
        Ok(size)
    }

    async fn download_file(&self, key: &str, path: &Path) -> Result<u64> {
        validate_key(key)?;
        self.api.download(key, path).await
    }

    async fn delete(&self, key: &str) -> Result<()> {
        validate_key(key)?;
        self.api.delete(key).await
    }

    async fn list(&self, prefix: &str, mode: ListMode) -> Result<Vec<String>> {
        self.api.list(prefix, mode).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emulator_host_becomes_a_base_url() {
        assert_eq!(emulator_base_url(None), None);
        assert_eq!(emulator_base_url(Some("")), None);
        assert_eq!(
            emulator_base_url(Some("localhost:4443")).as_deref(),
            Some("http://localhost:4443")
        );
        assert_eq!(
            emulator_base_url(Some("https://gcs.local:8443/")).as_deref(),
            Some("https://gcs.local:8443")
        );
    }

    #[test]
    fn a_broken_service_account_is_a_config_error() {
        let cfg = GcsConfig {
            bucket: "b".into(),
            service_account: r#"{"type": "service_account"}"#.into(),
            ..GcsConfig::default()
        };
        let e = GcsBucket::with_endpoint(&cfg, None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("GCS config") && e.contains("credentials"), "{e}");
    }
}
