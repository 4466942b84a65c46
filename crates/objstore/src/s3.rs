//! `S3` backend through aws-sdk-s3.
//!
//! Uploads larger than the part size go through multipart upload (aborted on failure, so no
//! partial object ever appears under the key); smaller ones are a single streaming PUT. The SDK's
//! own retries are disabled: [`crate::InstrumentedBucket`] retries transient errors.

use std::path::Path;
use std::time::SystemTime;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::{
    BehaviorVersion, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::{ByteStream, Length};
use aws_sdk_s3::types::{
    CompletedMultipartUpload, CompletedPart, ServerSideEncryption, StorageClass,
};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use tokio::io::AsyncWriteExt;

mod credentials;
mod encoding;
mod endpoint;

use self::encoding::{base64, md5};
use crate::bucket::{Bucket, ListMode, ObjectAttributes, temp_sibling, validate_key};
use crate::config::{S3Config, ZERO_PART_SIZE_DEFAULT};
use crate::error::{Error, Operation, Result};
use crate::http::Transport;

/// S3 allows at most this many parts per multipart upload.
const MAX_PARTS: u64 = 10_000;
/// Parts uploaded concurrently.
const PART_CONCURRENCY: usize = 4;

/// Thanos `type: S3` bucket.
#[derive(Debug, Clone)]
pub struct S3Bucket {
    client: Client,
    bucket: String,
    part_size: u64,
    multipart: bool,
    list_v1: bool,
    send_md5: bool,
    sse: Option<Sse>,
    storage_class: Option<StorageClass>,
    metadata: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
enum Sse {
    S3,
    Kms {
        key_id: String,
        context: Option<String>,
    },
    /// Customer key: base64 key and base64 MD5 of the key, sent on every object request.
    C {
        key: String,
        key_md5: String,
    },
}

/// The only SSE-C algorithm S3 supports.
const SSE_C_ALGORITHM: &str = "AES256";

/// Adds the SSE-C headers (when configured) to a request builder that reads or writes data.
macro_rules! with_sse_c {
    ($self:ident, $req:expr) => {{
        let (alg, key, md5) = $self.sse_c_headers();
        $req.set_sse_customer_algorithm(alg)
            .set_sse_customer_key(key)
            .set_sse_customer_key_md5(md5)
    }};
}

impl S3Bucket {
    /// SSE-C algorithm, key and key MD5 headers; all `None` without SSE-C.
    fn sse_c_headers(&self) -> (Option<String>, Option<String>, Option<String>) {
        match &self.sse {
            Some(Sse::C { key, key_md5 }) => (
                Some(SSE_C_ALGORITHM.to_owned()),
                Some(key.clone()),
                Some(key_md5.clone()),
            ),
            _ => (None, None, None),
        }
    }

    /// Builds the client from a validated config (see [`crate::BucketConfig::parse`]).
    ///
    /// Credentials follow Thanos (see [`credentials`]); requests go through the objstore HTTP
    /// transport with `http_config` applied (TLS, timeouts, pool sizes).
    pub async fn new(cfg: &S3Config) -> Result<Self> {
        let addressing = endpoint::resolve(cfg);
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(r) = &addressing.region {
            loader = loader.region(Region::new(r.clone()));
        }
        if let Some(p) = credentials::provider(cfg, addressing.region.as_deref()) {
            loader = loader.credentials_provider(p);
        }
        let sdk = loader.load().await;
        let transport = Transport::new(&cfg.http_config, "S3 config")?;
        let mut builder = aws_sdk_s3::config::Builder::from(&sdk)
            .http_client(crate::http::smithy::client(transport))
            .force_path_style(addressing.path_style)
            .use_dual_stack(addressing.dual_stack)
            .retry_config(RetryConfig::disabled())
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        if sdk.region().is_none() {
            builder = builder.region(Region::new("us-east-1"));
        }
        builder.set_endpoint_url(addressing.endpoint_url.clone());
        let sse = match cfg.sse_config.kind.as_str() {
            "SSE-S3" => Some(Sse::S3),
            "SSE-KMS" => Some(Sse::Kms {
                key_id: cfg.sse_config.kms_key_id.clone(),
                context: (!cfg.sse_config.kms_encryption_context.is_empty())
                    .then(|| {
                        serde_json::to_vec(&cfg.sse_config.kms_encryption_context)
                            .map(|j| base64(&j))
                    })
                    .transpose()
                    .map_err(|e| {
                        Error::config(
                            "s3 config",
                            format!("sse_config.kms_encryption_context: {e}"),
                        )
                    })?,
            }),
            "SSE-C" => {
                let path = &cfg.sse_config.encryption_key;
                let key = std::fs::read(path).map_err(|e| {
                    Error::config(
                        "s3 config",
                        format!("sse_config.encryption_key: reading {path:?}: {e}"),
                    )
                })?;
                if key.len() != 32 {
                    return Err(Error::config(
                        "s3 config",
                        format!(
                            "sse_config.encryption_key: {path:?} holds {} bytes, SSE-C needs a 32-byte key",
                            key.len()
                        ),
                    ));
                }
                Some(Sse::C {
                    key: base64(&key),
                    key_md5: base64(&md5(&key)),
                })
            }
            _ => None,
        };
        let mut storage_class = None;
        let mut metadata = Vec::new();
        for (k, v) in &cfg.put_user_metadata {
            if k.eq_ignore_ascii_case("X-Amz-Storage-Class") {
                storage_class = Some(StorageClass::from(v.as_str()));
            } else {
                metadata.push((k.clone(), v.clone()));
            }
        }
        Ok(Self {
            client: Client::from_conf(builder.build()),
            bucket: cfg.bucket.clone(),
            part_size: if cfg.part_size == 0 {
                ZERO_PART_SIZE_DEFAULT
            } else {
                cfg.part_size
            },
            multipart: !cfg.disable_multipart,
            list_v1: cfg.list_objects_version == "v1",
            send_md5: cfg.send_content_md5,
            sse,
            storage_class,
            metadata,
        })
    }

    fn classify<E>(&self, op: Operation, key: &str, err: SdkError<E, HttpResponse>) -> Error
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        classify(&self.bucket, op, key, err)
    }

    async fn put_small(
        &self,
        key: &str,
        body: ByteStream,
        len: u64,
        content_md5: Option<String>,
    ) -> Result<()> {
        let mut req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .set_content_md5(content_md5)
            .body(body);
        req = req.content_length(i64::try_from(len).unwrap_or(i64::MAX));
        if let Some(sc) = &self.storage_class {
            req = req.storage_class(sc.clone());
        }
        for (k, v) in &self.metadata {
            req = req.metadata(k, v);
        }
        match &self.sse {
            Some(Sse::S3) => req = req.server_side_encryption(ServerSideEncryption::Aes256),
            Some(Sse::Kms { key_id, context }) => {
                req = req
                    .server_side_encryption(ServerSideEncryption::AwsKms)
                    .ssekms_key_id(key_id);
                if let Some(c) = context {
                    req = req.ssekms_encryption_context(c);
                }
            }
            Some(Sse::C { key, key_md5 }) => {
                req = req
                    .sse_customer_algorithm(SSE_C_ALGORITHM)
                    .sse_customer_key(key)
                    .sse_customer_key_md5(key_md5);
            }
            None => {}
        }
        req.send()
            .await
            .map_err(|e| self.classify(Operation::Upload, key, e))?;
        Ok(())
    }

    /// Multipart upload of `size` bytes; `part(offset, len)` produces each part's body and,
    /// with `send_content_md5`, its `Content-MD5`.
    async fn put_multipart<F, Fut>(&self, key: &str, size: u64, part: F) -> Result<()>
    where
        F: Fn(u64, u64) -> Fut,
        Fut: std::future::Future<Output = Result<(ByteStream, Option<String>)>>,
    {
        let op = Operation::Upload;
        let part_size = self.part_size.max(size.div_ceil(MAX_PARTS));
        let mut req = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key);
        if let Some(sc) = &self.storage_class {
            req = req.storage_class(sc.clone());
        }
        for (k, v) in &self.metadata {
            req = req.metadata(k, v);
        }
        match &self.sse {
            Some(Sse::S3) => req = req.server_side_encryption(ServerSideEncryption::Aes256),
            Some(Sse::Kms { key_id, context }) => {
                req = req
                    .server_side_encryption(ServerSideEncryption::AwsKms)
                    .ssekms_key_id(key_id);
                if let Some(c) = context {
                    req = req.ssekms_encryption_context(c);
                }
            }
            Some(Sse::C { key, key_md5 }) => {
                req = req
                    .sse_customer_algorithm(SSE_C_ALGORITHM)
                    .sse_customer_key(key)
                    .sse_customer_key_md5(key_md5);
            }
            None => {}
        }
        let created = req.send().await.map_err(|e| self.classify(op, key, e))?;
        let Some(upload_id) = created.upload_id().map(str::to_owned) else {
            return Err(Error::backend(
                op,
                &self.bucket,
                key,
                "create multipart upload returned no upload id",
            ));
        };
        let result = async {
            let count = size.div_ceil(part_size);
            let parts: Vec<CompletedPart> = futures::stream::iter(0..count)
                .map(|i| {
                    let offset = i * part_size;
                    let len = part_size.min(size - offset);
                    let body = part(offset, len);
                    let upload_id = &upload_id;
                    async move {
                        let number = i32::try_from(i + 1).unwrap_or(i32::MAX);
                        let (body, content_md5) = body.await?;
                        let resp = with_sse_c!(
                            self,
                            self.client.upload_part().bucket(&self.bucket).key(key)
                        )
                        .upload_id(upload_id)
                        .part_number(number)
                        .content_length(i64::try_from(len).unwrap_or(i64::MAX))
                        .set_content_md5(content_md5)
                        .body(body)
                        .send()
                        .await
                        .map_err(|e| self.classify(op, key, e))?;
                        Ok::<_, Error>(
                            CompletedPart::builder()
                                .part_number(number)
                                .set_e_tag(resp.e_tag)
                                .build(),
                        )
                    }
                })
                .buffered(PART_CONCURRENCY)
                .try_collect()
                .await?;
            self.client
                .complete_multipart_upload()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(&upload_id)
                .multipart_upload(
                    CompletedMultipartUpload::builder()
                        .set_parts(Some(parts))
                        .build(),
                )
                .send()
                .await
                .map_err(|e| self.classify(op, key, e))?;
            Ok(())
        }
        .await;
        if result.is_err() {
            // Best effort: the parts are invisible under the key either way.
            let abort = self
                .client
                .abort_multipart_upload()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(&upload_id)
                .send()
                .await;
            if let Err(e) = abort {
                tracing::debug!(key, error = %DisplayErrorContext(&e), "aborting multipart upload failed");
            }
        }
        result
    }

    async fn list_pages(&self, prefix: &str, mode: ListMode) -> Result<Vec<String>> {
        let op = Operation::Iter;
        let delimiter = (mode == ListMode::Delimited).then_some("/");
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let truncated;
            if self.list_v1 {
                let resp = self
                    .client
                    .list_objects()
                    .bucket(&self.bucket)
                    .prefix(prefix)
                    .set_delimiter(delimiter.map(str::to_owned))
                    .set_marker(token.take())
                    .send()
                    .await
                    .map_err(|e| self.classify(op, prefix, e))?;
                let before = out.len();
                out.extend(
                    resp.contents()
                        .iter()
                        .filter_map(|o| o.key().map(str::to_owned)),
                );
                out.extend(
                    resp.common_prefixes()
                        .iter()
                        .filter_map(|p| p.prefix().map(str::to_owned)),
                );
                truncated = resp.is_truncated() == Some(true);
                token = resp
                    .next_marker()
                    .map(str::to_owned)
                    .or_else(|| out[before..].iter().max().cloned());
            } else {
                let resp = self
                    .client
                    .list_objects_v2()
                    .bucket(&self.bucket)
                    .prefix(prefix)
                    .set_delimiter(delimiter.map(str::to_owned))
                    .set_continuation_token(token.take())
                    .send()
                    .await
                    .map_err(|e| self.classify(op, prefix, e))?;
                out.extend(
                    resp.contents()
                        .iter()
                        .filter_map(|o| o.key().map(str::to_owned)),
                );
                out.extend(
                    resp.common_prefixes()
                        .iter()
                        .filter_map(|p| p.prefix().map(str::to_owned)),
                );
                truncated = resp.is_truncated() == Some(true);
                token = resp.next_continuation_token().map(str::to_owned);
            }
            if !truncated {
                break;
            }
            if token.is_none() {
                return Err(Error::backend(
                    op,
                    &self.bucket,
                    prefix,
                    "listing is truncated but has no continuation token",
                ));
            }
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }
}

#[async_trait]
impl Bucket for S3Bucket {
    fn name(&self) -> &str {
        &self.bucket
    }

    async fn get(&self, key: &str) -> Result<Bytes> {
        validate_key(key)?;
        let resp = with_sse_c!(self, self.client.get_object().bucket(&self.bucket).key(key))
            .send()
            .await
            .map_err(|e| self.classify(Operation::Get, key, e))?;
        let data = resp.body.collect().await.map_err(|e| {
            Error::transient(
                Operation::Get,
                &self.bucket,
                key,
                format!("reading the body: {}", DisplayErrorContext(&e)),
            )
        })?;
        Ok(data.into_bytes())
    }

    async fn get_range(&self, key: &str, offset: u64, len: u64) -> Result<Bytes> {
        validate_key(key)?;
        let op = Operation::GetRange;
        let beyond_end = |size: u64| -> Result<Bytes> {
            if offset > size {
                Err(Error::InvalidRange {
                    bucket: self.bucket.clone(),
                    key: key.to_owned(),
                    offset,
                    size,
                })
            } else {
                Ok(Bytes::new())
            }
        };
        if len == 0 {
            return beyond_end(self.attributes(key).await?.size);
        }
        let last = offset.saturating_add(len - 1);
        let sent = with_sse_c!(self, self.client.get_object().bucket(&self.bucket).key(key))
            .range(format!("bytes={offset}-{last}"))
            .send()
            .await;
        let resp = match sent {
            Ok(r) => r,
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 416) => {
                return beyond_end(self.attributes(key).await?.size);
            }
            Err(e) => return Err(self.classify(op, key, e)),
        };
        let ranged = resp.content_range().is_some();
        let data = resp.body.collect().await.map_err(|e| {
            Error::transient(
                op,
                &self.bucket,
                key,
                format!("reading the body: {}", DisplayErrorContext(&e)),
            )
        })?;
        let mut data = data.into_bytes();
        if !ranged {
            // The server ignored the Range header and sent the whole object.
            let size = data.len() as u64;
            if offset > size {
                return beyond_end(size);
            }
            data = data.slice(offset as usize..last.saturating_add(1).min(size) as usize);
        }
        Ok(data)
    }

    async fn attributes(&self, key: &str) -> Result<ObjectAttributes> {
        validate_key(key)?;
        let resp = with_sse_c!(
            self,
            self.client.head_object().bucket(&self.bucket).key(key)
        )
        .send()
        .await
        .map_err(|e| self.classify(Operation::Attributes, key, e))?;
        let size = resp
            .content_length()
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or(0);
        let last_modified = resp
            .last_modified()
            .and_then(|t| SystemTime::try_from(*t).ok())
            .unwrap_or(SystemTime::UNIX_EPOCH);
        Ok(ObjectAttributes {
            size,
            last_modified,
        })
    }

    async fn upload(&self, key: &str, data: Bytes) -> Result<()> {
        validate_key(key)?;
        let size = data.len() as u64;
        let send_md5 = self.send_md5;
        let digest = move |b: &[u8]| send_md5.then(|| base64(&md5(b)));
        if self.multipart && size > self.part_size {
            return self
                .put_multipart(key, size, |offset, len| {
                    let part = data.slice(offset as usize..(offset + len) as usize);
                    let sum = digest(&part);
                    async move { Ok((ByteStream::from(part), sum)) }
                })
                .await;
        }
        let sum = digest(&data);
        self.put_small(key, ByteStream::from(data), size, sum).await
    }

    async fn upload_file(&self, key: &str, path: &Path) -> Result<u64> {
        validate_key(key)?;
        let op = Operation::Upload;
        let local = |e| Error::local_io(op, key, path, e);
        let size = tokio::fs::metadata(path).await.map_err(local)?.len();
        let send_md5 = self.send_md5;
        let stream = |offset: u64, len: u64| async move {
            let sum = if send_md5 {
                Some(file_md5(path, offset, len).await.map_err(local)?)
            } else {
                None
            };
            let body = ByteStream::read_from()
                .path(path)
                .offset(offset)
                .length(Length::Exact(len))
                .build()
                .await
                .map_err(|e| Error::local_io(op, key, path, std::io::Error::other(e)))?;
            Ok((body, sum))
        };
        if self.multipart && size > self.part_size {
            self.put_multipart(key, size, stream).await?;
        } else {
            let (body, sum) = stream(0, size).await?;
            self.put_small(key, body, size, sum).await?;
        }
        Ok(size)
    }

    async fn download_file(&self, key: &str, path: &Path) -> Result<u64> {
        validate_key(key)?;
        let op = Operation::Get;
        let resp = with_sse_c!(self, self.client.get_object().bucket(&self.bucket).key(key))
            .send()
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
        let result = async {
            let mut file = tokio::fs::File::create(&tmp)
                .await
                .map_err(|e| Error::local_io(op, key, &tmp, e))?;
            let mut body = resp.body;
            let mut n = 0u64;
            while let Some(chunk) = body.try_next().await.map_err(|e| {
                Error::transient(
                    op,
                    &self.bucket,
                    key,
                    format!("reading the body: {}", DisplayErrorContext(&e)),
                )
            })? {
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
        }
        .await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        result
    }

    async fn delete(&self, key: &str) -> Result<()> {
        validate_key(key)?;
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| self.classify(Operation::Delete, key, e))?;
        Ok(())
    }

    async fn list(&self, prefix: &str, mode: ListMode) -> Result<Vec<String>> {
        self.list_pages(prefix, mode).await
    }
}

/// Maps an SDK error to [`Error`]: 404/`NoSuchKey` → NotFound, 401/403 and credential codes →
/// Auth, network/timeouts/5xx/throttling → Transient, everything else → Backend.
fn classify<E>(bucket: &str, op: Operation, key: &str, err: SdkError<E, HttpResponse>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let status = err.raw_response().map(|r| r.status().as_u16());
    let code = err.code().map(str::to_owned);
    let detail = match (&code, err.message(), status) {
        (Some(c), Some(m), _) => format!("{c}: {m}"),
        (Some(c), None, Some(s)) => format!("{c} (HTTP {s})"),
        (None, _, Some(s)) => format!("HTTP {s}: {}", DisplayErrorContext(&err)),
        _ => DisplayErrorContext(&err).to_string(),
    };
    match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            return Error::transient(op, bucket, key, DisplayErrorContext(&err));
        }
        SdkError::ServiceError(_) => {}
        _ => return Error::backend(op, bucket, key, DisplayErrorContext(&err)),
    }
    match (code.as_deref(), status) {
        (Some("NoSuchBucket"), _) => Error::backend(
            op,
            bucket,
            key,
            format!("the bucket does not exist: {detail}"),
        ),
        (Some("NoSuchKey" | "NotFound"), _) | (None, Some(404)) => Error::not_found(bucket, key),
        (
            Some(
                "AccessDenied"
                | "InvalidAccessKeyId"
                | "SignatureDoesNotMatch"
                | "ExpiredToken"
                | "InvalidToken"
                | "TokenRefreshRequired"
                | "AuthorizationHeaderMalformed"
                | "InvalidSecurity",
            ),
            _,
        )
        | (_, Some(401 | 403)) => Error::auth(op, bucket, key, detail),
        (
            Some(
                "SlowDown" | "InternalError" | "ServiceUnavailable" | "RequestTimeout"
                | "Throttling",
            ),
            _,
        )
        | (_, Some(429 | 500..=599)) => Error::transient(op, bucket, key, detail),
        _ => Error::backend(op, bucket, key, detail),
    }
}

/// Base64 MD5 of `len` bytes of `path` from `offset` (read in a blocking task).
async fn file_md5(path: &Path, offset: u64, len: u64) -> std::io::Result<String> {
    use std::io::{Read, Seek, SeekFrom};
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let mut file = std::fs::File::open(&path)?;
        file.seek(SeekFrom::Start(offset))?;
        let mut hasher = encoding::Md5::default();
        let mut left = len;
        let mut buf = vec![0u8; 256 * 1024];
        while left > 0 {
            let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            let n = file.read(&mut buf[..want])?;
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "file shrank while uploading",
                ));
            }
            hasher.update(&buf[..n]);
            left -= n as u64;
        }
        Ok(base64(&hasher.finish()))
    })
    .await
    .map_err(std::io::Error::other)?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sse_c_key_file_is_read_and_checked() {
        let tmp = tempfile::tempdir().unwrap();
        let key_file = tmp.path().join("key");
        std::fs::write(&key_file, [7u8; 32]).unwrap();
        let mut cfg = S3Config {
            bucket: "b".into(),
            endpoint: "127.0.0.1:1".into(),
            access_key: "a".into(),
            secret_key: "s".into(),
            ..S3Config::default()
        };
        cfg.sse_config.kind = "SSE-C".into();
        cfg.sse_config.encryption_key = key_file.display().to_string();
        let b = S3Bucket::new(&cfg).await.unwrap();
        let (alg, key, md5) = b.sse_c_headers();
        assert_eq!(alg.as_deref(), Some("AES256"));
        assert_eq!(key, Some(base64(&[7u8; 32])));
        assert_eq!(md5, Some(base64(&super::md5(&[7u8; 32]))));
        std::fs::write(&key_file, b"short").unwrap();
        let e = S3Bucket::new(&cfg).await.unwrap_err();
        assert!(e.to_string().contains("32-byte"), "{e}");
    }
}
