//! `AZURE` backend: Azure Blob Storage through `object_store`'s client (block blobs), on the
//! objstore HTTP transport.
//!
//! Why `object_store`: it is the Apache Arrow project's maintained client, covers every Azure
//! credential Thanos offers (shared key, SAS, service principal, workload identity, managed
//! identity), and takes a custom HTTP connector, so it adds no second TLS stack: its `reqwest`
//! feature is off and requests go through [`crate::http`] with aws-lc rustls.
//!
//! Uploads above [`AZURE_BLOCK_SIZE`] are staged as blocks and committed by one block list, so
//! readers never see a partial blob. Retries are [`crate::InstrumentedBucket`]'s (object_store's
//! are off); `pipeline_config.try_timeout` bounds each try here.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::azure::{AzureAuthorizer, MicrosoftAzure, MicrosoftAzureBuilder};
use object_store::client::HttpRequestBody;
use object_store::path::Path as ObjectPath;
use object_store::{
    ClientOptions, GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig,
};
use tokio::io::AsyncWriteExt;

use crate::bucket::{Bucket, ListMode, ObjectAttributes, temp_sibling, validate_key};
use crate::config::{AzureConfig, ConnectionString};
use crate::error::{Error, Operation, Result};
use crate::http::{Transport, chain, service};

/// Block size of uploads larger than one block.
pub(crate) const AZURE_BLOCK_SIZE: u64 = 8 * 1024 * 1024;
/// Blocks uploaded concurrently.
const BLOCK_CONCURRENCY: usize = 4;
/// The REST API version of the container requests made here.
const API_VERSION: &str = "2021-08-06";

/// Thanos `type: AZURE` bucket.
#[derive(Debug, Clone)]
pub struct AzureBucket {
    store: Arc<MicrosoftAzure>,
    container: String,
    try_timeout: Option<Duration>,
}

/// Where and as whom to connect, from the config's credential fields.
struct Target {
    account: String,
    /// Account URL (`https://<account>.blob.core.windows.net` or a connection string's).
    endpoint: String,
    builder: MicrosoftAzureBuilder,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn target(cfg: &AzureConfig) -> Result<Target> {
    let origin = "AZURE config";
    let mut b = MicrosoftAzureBuilder::new();
    let mut account = cfg.storage_account.clone();
    let mut endpoint = format!("https://{}.{}", cfg.storage_account, cfg.endpoint);
    if !cfg.storage_connection_string.is_empty() {
        let cs = ConnectionString::parse(&cfg.storage_connection_string)
            .map_err(|e| Error::config(origin, format!("storage_connection_string: {e}")))?;
        if let Some(a) = cs.account_name.clone() {
            account = a;
        }
        endpoint = match (&cs.blob_endpoint, &cs.endpoint_suffix) {
            (Some(e), _) => e.trim_end_matches('/').to_owned(),
            (None, suffix) => format!(
                "{}://{account}.blob.{}",
                cs.protocol.as_deref().unwrap_or("https"),
                suffix.as_deref().unwrap_or("core.windows.net")
            ),
        };
        if let Some(key) = &cs.account_key {
            b = b.with_access_key(key);
        } else if let Some(sas) = &cs.sas {
            b = b.with_config(object_store::azure::AzureConfigKey::SasKey, sas);
        }
    } else if !cfg.storage_account_key.is_empty() {
        b = b.with_access_key(&cfg.storage_account_key);
    } else if !cfg.client_secret.is_empty() {
        b = b
            .with_tenant_id(&cfg.az_tenant_id)
            .with_client_id(&cfg.client_id)
            .with_client_secret(&cfg.client_secret);
    } else if !cfg.user_assigned_id.is_empty() {
        // Managed identity with this client id (object_store's fallback credential).
        b = b.with_client_id(&cfg.user_assigned_id);
    } else {
        // Azure's default chain: environment (secret or workload identity), then managed identity.
        if let Some(id) = env("AZURE_CLIENT_ID") {
            b = b.with_client_id(id);
        }
        if let Some(t) = env("AZURE_TENANT_ID") {
            b = b.with_tenant_id(t);
        }
        if let Some(s) = env("AZURE_CLIENT_SECRET") {
            b = b.with_client_secret(s);
        }
        if let Some(f) = env("AZURE_FEDERATED_TOKEN_FILE") {
            b = b.with_federated_token_file(f);
        }
        if let Some(h) = env("AZURE_AUTHORITY_HOST") {
            b = b.with_authority_host(h);
        }
    }
    Ok(Target {
        account,
        endpoint,
        builder: b,
    })
}

impl AzureBucket {
    /// Connects to the container (creating it when `storage_create_container` is set and it
    /// does not exist).
    pub async fn new(cfg: &AzureConfig) -> Result<Self> {
        let origin = "AZURE config";
        let transport = Arc::new(Transport::<HttpRequestBody>::new(&cfg.http_config, origin)?);
        let Target {
            account,
            endpoint,
            builder,
        } = target(cfg)?;
        let store = builder
            .with_account(&account)
            .with_container_name(&cfg.container)
            .with_endpoint(endpoint.clone())
            .with_client_options(ClientOptions::new().with_allow_http(true))
            .with_retry(RetryConfig {
                max_retries: 0,
                ..RetryConfig::default()
            })
            .with_http_connector(service::Connector(transport.clone()))
            .build()
            .map_err(|e| {
                Error::config(origin, format!("building the Azure client: {}", chain(&e)))
            })?;
        let bucket = Self {
            store: Arc::new(store),
            container: cfg.container.clone(),
            try_timeout: (!cfg.pipeline_config.try_timeout.0.is_zero())
                .then_some(cfg.pipeline_config.try_timeout.0),
        };
        if cfg.storage_create_container {
            bucket
                .ensure_container(&transport, &account, &endpoint)
                .await?;
        }
        Ok(bucket)
    }

    /// Thanos's start-up check: get the container's properties, create it on 404.
    async fn ensure_container(
        &self,
        transport: &Transport<HttpRequestBody>,
        account: &str,
        endpoint: &str,
    ) -> Result<()> {
        let op = Operation::Iter;
        let url = format!("{endpoint}/{}?restype=container", self.container);
        let credential = self
            .store
            .credentials()
            .get_credential()
            .await
            .map_err(|e| self.classify(op, "", e))?;
        let send = |method: http::Method| {
            let url = url.clone();
            let credential = credential.clone();
            async move {
                let mut req = http::Request::builder()
                    .method(method)
                    .uri(&url)
                    .header("x-ms-version", API_VERSION)
                    .header(http::header::CONTENT_LENGTH, "0")
                    .body(HttpRequestBody::empty())
                    .map_err(|e| Error::backend(op, &self.container, "", e))?;
                AzureAuthorizer::new(&credential, account)
                    .try_authorize(&mut req)
                    .map_err(|e| self.classify(op, "", e))?;
                let resp = transport.send(req).await.map_err(|e| {
                    Error::transient(op, &self.container, "", format!("{url}: {e}"))
                })?;
                Ok::<_, Error>(resp.status())
            }
        };
        let status = send(http::Method::GET).await?;
        if status.is_success() {
            return Ok(());
        }
        if status != http::StatusCode::NOT_FOUND {
            return Err(self.status_error(op, status, "getting the container's properties"));
        }
        let created = send(http::Method::PUT).await?;
        if created.is_success() || created == http::StatusCode::CONFLICT {
            tracing::info!(container = %self.container, "created the Azure blob container");
            return Ok(());
        }
        Err(self.status_error(op, created, "creating the container"))
    }

    fn status_error(&self, op: Operation, status: http::StatusCode, what: &str) -> Error {
        let msg = format!("{what}: HTTP {status}");
        match status.as_u16() {
            401 | 403 => Error::auth(op, &self.container, "", msg),
            429 | 500..=599 => Error::transient(op, &self.container, "", msg),
            _ => Error::backend(op, &self.container, "", msg),
        }
    }

    fn classify(&self, op: Operation, key: &str, e: object_store::Error) -> Error {
        match &e {
            object_store::Error::NotFound { .. } => Error::not_found(&self.container, key),
            object_store::Error::PermissionDenied { .. }
            | object_store::Error::Unauthenticated { .. } => {
                Error::auth(op, &self.container, key, chain(&e))
            }
            _ if service::is_transient(&e) => Error::transient(op, &self.container, key, chain(&e)),
            _ => Error::backend(op, &self.container, key, chain(&e)),
        }
    }

    /// Runs one try under `pipeline_config.try_timeout`.
    async fn attempt<T>(
        &self,
        op: Operation,
        key: &str,
        f: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        match self.try_timeout {
            None => f.await,
            Some(t) => tokio::time::timeout(t, f).await.map_err(|_| {
                Error::transient(
                    op,
                    &self.container,
                    key,
                    format!("try timed out after {t:?} (pipeline_config.try_timeout)"),
                )
            })?,
        }
    }

    fn path(key: &str) -> Result<ObjectPath> {
        validate_key(key)?;
        ObjectPath::parse(key).map_err(|e| Error::InvalidKey {
            key: key.to_owned(),
            reason: if e.to_string().contains("encod") {
                "key is not a valid blob name"
            } else {
                "key is not a valid object path"
            },
        })
    }

    async fn put(&self, key: &str, path: &ObjectPath, data: Bytes) -> Result<()> {
        let op = Operation::Upload;
        if data.len() as u64 <= AZURE_BLOCK_SIZE {
            self.store
                .put(path, PutPayload::from(data))
                .await
                .map_err(|e| self.classify(op, key, e))?;
            return Ok(());
        }
        let mut upload = self
            .store
            .put_multipart(path)
            .await
            .map_err(|e| self.classify(op, key, e))?;
        let mut parts = Vec::new();
        let mut offset = 0usize;
        while offset < data.len() {
            let end = (offset + AZURE_BLOCK_SIZE as usize).min(data.len());
            parts.push(upload.put_part(PutPayload::from(data.slice(offset..end))));
            offset = end;
        }
        let staged = futures::stream::iter(parts)
            .buffer_unordered(BLOCK_CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await;
        let result = match staged {
            Ok(_) => upload.complete().await.map(|_| ()),
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            // Staged blocks never become visible and expire on their own.
            let _ = upload.abort().await;
            return Err(self.classify(op, key, e));
        }
        Ok(())
    }

    /// Block upload of a local file, reading one block at a time.
    async fn put_file(&self, key: &str, object: &ObjectPath, path: &Path, size: u64) -> Result<()> {
        use tokio::io::AsyncReadExt;
        let op = Operation::Upload;
        let local = |e| Error::local_io(op, key, path, e);
        let mut file = tokio::fs::File::open(path).await.map_err(local)?;
        let mut upload = self
            .store
            .put_multipart(object)
            .await
            .map_err(|e| self.classify(op, key, e))?;
        let staged = async {
            let mut in_flight = futures::stream::FuturesUnordered::new();
            let mut offset = 0u64;
            while offset < size {
                let len = AZURE_BLOCK_SIZE.min(size - offset);
                let mut buf = vec![0u8; len as usize];
                file.read_exact(&mut buf).await.map_err(local)?;
                in_flight.push(upload.put_part(PutPayload::from(buf)));
                offset += len;
                if in_flight.len() >= BLOCK_CONCURRENCY
                    && let Some(r) = in_flight.next().await
                {
                    r.map_err(|e| self.classify(op, key, e))?;
                }
            }
            while let Some(r) = in_flight.next().await {
                r.map_err(|e| self.classify(op, key, e))?;
            }
            Ok::<_, Error>(())
        }
        .await;
        let result = match staged {
            Ok(()) => upload
                .complete()
                .await
                .map(|_| ())
                .map_err(|e| self.classify(op, key, e)),
            Err(e) => Err(e),
        };
        if result.is_err() {
            let _ = upload.abort().await;
        }
        result
    }

    /// Object paths (and directories, in delimited mode) below `dir` (a directory or "").
    async fn list_dir(&self, dir: &str, mode: ListMode) -> Result<Vec<String>> {
        let op = Operation::Iter;
        let prefix = if dir.is_empty() {
            None
        } else {
            Some(ObjectPath::parse(dir.trim_end_matches('/')).map_err(|e| {
                Error::backend(op, &self.container, dir, format!("invalid prefix: {e}"))
            })?)
        };
        let mut out = Vec::new();
        match mode {
            ListMode::Delimited => {
                let listed = self
                    .store
                    .list_with_delimiter(prefix.as_ref())
                    .await
                    .map_err(|e| self.classify(op, dir, e))?;
                out.extend(listed.objects.into_iter().map(|o| o.location.to_string()));
                out.extend(listed.common_prefixes.into_iter().map(|p| format!("{p}/")));
            }
            ListMode::Recursive => {
                let mut stream = self.store.list(prefix.as_ref());
                while let Some(meta) = stream.next().await {
                    let meta = meta.map_err(|e| self.classify(op, dir, e))?;
                    out.push(meta.location.to_string());
                }
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl Bucket for AzureBucket {
    fn name(&self) -> &str {
        &self.container
    }

    async fn get(&self, key: &str) -> Result<Bytes> {
        let path = Self::path(key)?;
        let op = Operation::Get;
        self.attempt(op, key, async {
            let r = self
                .store
                .get(&path)
                .await
                .map_err(|e| self.classify(op, key, e))?;
            r.bytes().await.map_err(|e| self.classify(op, key, e))
        })
        .await
    }

    async fn get_range(&self, key: &str, offset: u64, len: u64) -> Result<Bytes> {
        let path = Self::path(key)?;
        let op = Operation::GetRange;
        let past_end = |size: u64| {
            if offset > size {
                Err(Error::InvalidRange {
                    bucket: self.container.clone(),
                    key: key.to_owned(),
                    offset,
                    size,
                })
            } else {
                Ok(Bytes::new())
            }
        };
        if len == 0 {
            return past_end(self.attributes(key).await?.size);
        }
        let options = GetOptions {
            range: Some(GetRange::Bounded(offset..offset.saturating_add(len))),
            ..GetOptions::default()
        };
        let got = self
            .attempt(op, key, async {
                let r = self
                    .store
                    .get_opts(&path, options)
                    .await
                    .map_err(|e| self.classify(op, key, e))?;
                r.bytes().await.map_err(|e| self.classify(op, key, e))
            })
            .await;
        match got {
            Ok(b) => Ok(b),
            Err(e) if e.is_not_found() || e.is_transient() || e.is_auth() => Err(e),
            Err(e) => {
                // 416 (or a range object_store rejects): decide from the size.
                let size = self.attributes(key).await?.size;
                if offset >= size {
                    past_end(size)
                } else {
                    Err(e)
                }
            }
        }
    }

    async fn attributes(&self, key: &str) -> Result<ObjectAttributes> {
        let path = Self::path(key)?;
        let op = Operation::Attributes;
        let meta = self
            .attempt(op, key, async {
                self.store
                    .head(&path)
                    .await
                    .map_err(|e| self.classify(op, key, e))
            })
            .await?;
        Ok(ObjectAttributes {
            size: meta.size,
            last_modified: SystemTime::from(meta.last_modified),
        })
    }

    async fn upload(&self, key: &str, data: Bytes) -> Result<()> {
        let path = Self::path(key)?;
        self.attempt(Operation::Upload, key, self.put(key, &path, data))
            .await
    }

    async fn upload_file(&self, key: &str, path: &Path) -> Result<u64> {
        let object = Self::path(key)?;
        let op = Operation::Upload;
        let local = |e| Error::local_io(op, key, path, e);
        let size = tokio::fs::metadata(path).await.map_err(local)?.len();
        if size <= AZURE_BLOCK_SIZE {
            let data = tokio::fs::read(path).await.map_err(local)?;
            self.attempt(op, key, self.put(key, &object, Bytes::from(data)))
                .await?;
            return Ok(size);
        }
        self.attempt(op, key, self.put_file(key, &object, path, size))
            .await?;
        Ok(size)
    }

    async fn download_file(&self, key: &str, path: &Path) -> Result<u64> {
        let object = Self::path(key)?;
        let op = Operation::Get;
        let resp = self
            .store
            .get(&object)
            .await
            .map_err(|e| self.classify(op, key, e))?;
        let parent = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| Error::local_io(op, key, parent, e))?;
        let tmp = temp_sibling(path);
        let result = self
            .attempt(op, key, async {
                let mut file = tokio::fs::File::create(&tmp)
                    .await
                    .map_err(|e| Error::local_io(op, key, &tmp, e))?;
                let mut body = resp.into_stream();
                let mut n = 0u64;
                while let Some(chunk) = body.next().await {
                    let chunk = chunk.map_err(|e| self.classify(op, key, e))?;
                    file.write_all(&chunk)
                        .await
                        .map_err(|e| Error::local_io(op, key, &tmp, e))?;
                    n += chunk.len() as u64;
                }
                file.flush()
                    .await
                    .map_err(|e| Error::local_io(op, key, &tmp, e))?;
                tokio::fs::rename(&tmp, path)
                    .await
                    .map_err(|e| Error::local_io(op, key, path, e))?;
                Ok(n)
            })
            .await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        result
    }

    async fn delete(&self, key: &str) -> Result<()> {
        let path = Self::path(key)?;
        let op = Operation::Delete;
        let deleted = self
            .attempt(op, key, async {
                self.store
                    .delete(&path)
                    .await
                    .map_err(|e| self.classify(op, key, e))
            })
            .await;
        match deleted {
            Err(e) if e.is_not_found() => Ok(()),
            other => other,
        }
    }

    async fn list(&self, prefix: &str, mode: ListMode) -> Result<Vec<String>> {
        // object_store lists whole path segments; a plain string prefix lists its directory
        // and keeps what starts with the prefix.
        let dir = match prefix.rfind('/') {
            Some(i) => &prefix[..=i],
            None => "",
        };
        let mut out: Vec<String> = self
            .attempt(Operation::Iter, prefix, self.list_dir(dir, mode))
            .await?
            .into_iter()
            .filter(|k| k.starts_with(prefix))
            .collect();
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }
}
