//! The GCS JSON API calls the backend makes: media download, object metadata, media and
//! resumable uploads, delete, list.

use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use http::{Method, StatusCode, header};
use http_body_util::BodyExt;
use object_store::client::HttpRequestBody;
use object_store::gcp::GcpCredentialProvider;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::bucket::{ListMode, ObjectAttributes, temp_sibling};
use crate::error::{Error, Operation, Result};
use crate::http::{LimitedBody, Transport, chain};

/// Everything but RFC 3986's unreserved characters is escaped.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn enc(s: &str) -> String {
    utf8_percent_encode(s, COMPONENT).to_string()
}

/// How much of an error body is kept for the message.
const ERROR_BODY_LIMIT: usize = 2048;

/// Where resumable upload chunks come from.
enum Chunks<'a> {
    Bytes(Bytes),
    File(tokio::fs::File, &'a Path),
}

/// What to upload.
pub(super) enum Source<'a> {
    Bytes(Bytes),
    File { path: &'a Path, size: u64 },
}

#[derive(Debug)]
pub(super) struct Api {
    pub(super) transport: Arc<Transport<HttpRequestBody>>,
    pub(super) credentials: Option<GcpCredentialProvider>,
    pub(super) base_url: String,
    pub(super) bucket: String,
    pub(super) chunk_size: u64,
}

#[derive(Deserialize)]
struct ObjectResource {
    size: String,
    updated: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListPage {
    #[serde(default)]
    items: Vec<ListItem>,
    #[serde(default)]
    prefixes: Vec<String>,
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
struct ListItem {
    name: String,
}

impl Api {
    fn object_url(&self, key: &str) -> String {
        format!(
            "{}/storage/v1/b/{}/o/{}",
            self.base_url,
            enc(&self.bucket),
            enc(key)
        )
    }

    fn upload_url(&self, kind: &str, key: &str) -> String {
        format!(
            "{}/upload/storage/v1/b/{}/o?uploadType={kind}&name={}",
            self.base_url,
            enc(&self.bucket),
            enc(key)
        )
    }

    /// Sends a request with the bearer token; `Err` only when no response arrived.
    async fn send(
        &self,
        op: Operation,
        key: &str,
        req: http::request::Builder,
        body: HttpRequestBody,
    ) -> Result<http::Response<LimitedBody>> {
        let mut req = req;
        if let Some(creds) = &self.credentials {
            let token = creds.get_credential().await.map_err(|e| {
                Error::auth(
                    op,
                    &self.bucket,
                    key,
                    format!("getting a Google access token: {}", chain(&e)),
                )
            })?;
            req = req.header(header::AUTHORIZATION, format!("Bearer {}", token.bearer));
        }
        let len = body.content_length();
        let req = req
            .header(header::CONTENT_LENGTH, len)
            .body(body)
            .map_err(|e| {
                Error::backend(op, &self.bucket, key, format!("building the request: {e}"))
            })?;
        self.transport
            .send(req)
            .await
            .map_err(|e| Error::transient(op, &self.bucket, key, e))
    }

    async fn read_body(
        &self,
        op: Operation,
        key: &str,
        resp: http::Response<LimitedBody>,
    ) -> Result<Bytes> {
        resp.into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .map_err(|e| {
                Error::transient(
                    op,
                    &self.bucket,
                    key,
                    format!("reading the body: {}", chain(&e)),
                )
            })
    }

    /// Maps a non-success response to an error (reading its body for the message).
    async fn failure(&self, op: Operation, key: &str, resp: http::Response<LimitedBody>) -> Error {
        let status = resp.status();
        let body = self.read_body(op, key, resp).await.unwrap_or_default();
        let end = body.len().min(ERROR_BODY_LIMIT);
        let text = String::from_utf8_lossy(&body[..end]);
        let msg = format!("HTTP {status}: {}", text.trim());
        match status.as_u16() {
            404 => Error::not_found(&self.bucket, key),
            401 | 403 => Error::auth(op, &self.bucket, key, msg),
            416 => Error::InvalidRange {
                bucket: self.bucket.clone(),
                key: key.to_owned(),
                offset: 0,
                size: 0,
            },
            408 | 429 | 500..=599 => Error::transient(op, &self.bucket, key, msg),
            _ => Error::backend(op, &self.bucket, key, msg),
        }
    }

    /// `GET …?alt=media`, with `Range: bytes=offset-(offset+len-1)` for a range.
    async fn open(
        &self,
        op: Operation,
        key: &str,
        range: Option<(u64, u64)>,
    ) -> Result<http::Response<LimitedBody>> {
        let mut req = http::Request::get(format!("{}?alt=media", self.object_url(key)));
        if let Some((offset, len)) = range {
            let last = offset.saturating_add(len - 1);
            req = req.header(header::RANGE, format!("bytes={offset}-{last}"));
        }
        let resp = self.send(op, key, req, HttpRequestBody::empty()).await?;
        if !resp.status().is_success() {
            return Err(self.failure(op, key, resp).await);
        }
        Ok(resp)
    }

    /// The object, or `len` bytes from `offset` (ignoring a server that sends the whole object).
    pub(super) async fn get(&self, key: &str, range: Option<(u64, u64)>) -> Result<Bytes> {
        let op = if range.is_some() {
            Operation::GetRange
        } else {
            Operation::Get
        };
        let resp = self.open(op, key, range).await?;
        let partial = resp.status() == StatusCode::PARTIAL_CONTENT;
        let data = self.read_body(op, key, resp).await?;
        match range {
            Some((offset, len)) if !partial => {
                let size = data.len() as u64;
                if offset >= size {
                    return Err(Error::InvalidRange {
                        bucket: self.bucket.clone(),
                        key: key.to_owned(),
                        offset,
                        size,
                    });
                }
                let end = offset.saturating_add(len).min(size);
                Ok(data.slice(offset as usize..end as usize))
            }
            _ => Ok(data),
        }
    }

    pub(super) async fn attributes(&self, key: &str) -> Result<ObjectAttributes> {
        let op = Operation::Attributes;
        let req = http::Request::get(self.object_url(key));
        let resp = self.send(op, key, req, HttpRequestBody::empty()).await?;
        if !resp.status().is_success() {
            return Err(self.failure(op, key, resp).await);
        }
        let body = self.read_body(op, key, resp).await?;
        let meta: ObjectResource = serde_json::from_slice(&body)
            .map_err(|e| Error::backend(op, &self.bucket, key, format!("object metadata: {e}")))?;
        let size = meta.size.parse().map_err(|e| {
            Error::backend(
                op,
                &self.bucket,
                key,
                format!("object size {:?}: {e}", meta.size),
            )
        })?;
        let last_modified = meta
            .updated
            .as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(SystemTime::from)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        Ok(ObjectAttributes {
            size,
            last_modified,
        })
    }

    pub(super) async fn upload(&self, key: &str, source: Source<'_>) -> Result<()> {
        let op = Operation::Upload;
        let size = match &source {
            Source::Bytes(b) => b.len() as u64,
            Source::File { size, .. } => *size,
        };
        if size <= self.chunk_size {
            let data = match source {
                Source::Bytes(b) => b,
                Source::File { path, .. } => Bytes::from(
                    tokio::fs::read(path)
                        .await
                        .map_err(|e| Error::local_io(op, key, path, e))?,
                ),
            };
            let req = http::Request::post(self.upload_url("media", key))
                .header(header::CONTENT_TYPE, "application/octet-stream");
            let resp = self.send(op, key, req, HttpRequestBody::from(data)).await?;
            if !resp.status().is_success() {
                return Err(self.failure(op, key, resp).await);
            }
            return Ok(());
        }
        let req = http::Request::post(self.upload_url("resumable", key))
            .header("x-upload-content-type", "application/octet-stream")
            .header("x-upload-content-length", size);
        let resp = self.send(op, key, req, HttpRequestBody::empty()).await?;
        if !resp.status().is_success() {
            return Err(self.failure(op, key, resp).await);
        }
        let Some(session) = resp
            .headers()
            .get(header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .map(str::to_owned)
        else {
            return Err(Error::backend(
                op,
                &self.bucket,
                key,
                "resumable upload started without a Location",
            ));
        };
        let result = self.upload_chunks(key, &session, source, size).await;
        if result.is_err() {
            // Best effort: an unfinished session never becomes an object and expires anyway.
            let req = http::Request::delete(&session);
            let _ = self.send(op, key, req, HttpRequestBody::empty()).await;
        }
        result
    }

    async fn upload_chunks(
        &self,
        key: &str,
        session: &str,
        source: Source<'_>,
        size: u64,
    ) -> Result<()> {
        let op = Operation::Upload;
        let mut reader = match source {
            Source::Bytes(b) => Chunks::Bytes(b),
            Source::File { path, .. } => Chunks::File(
                tokio::fs::File::open(path)
                    .await
                    .map_err(|e| Error::local_io(op, key, path, e))?,
                path,
            ),
        };
        let mut offset = 0u64;
        while offset < size {
            let len = self.chunk_size.min(size - offset);
            let chunk = match &mut reader {
                Chunks::Bytes(b) => b.slice(offset as usize..(offset + len) as usize),
                Chunks::File(f, path) => {
                    let mut buf = vec![0u8; len as usize];
                    f.read_exact(&mut buf)
                        .await
                        .map_err(|e| Error::local_io(op, key, *path, e))?;
                    Bytes::from(buf)
                }
            };
            let last = offset + len - 1;
            let req = http::Request::put(session).header(
                header::CONTENT_RANGE,
                format!("bytes {offset}-{last}/{size}"),
            );
            let resp = self
                .send(op, key, req, HttpRequestBody::from(chunk))
                .await?;
            let status = resp.status();
            let done = offset + len == size;
            match status.as_u16() {
                200 | 201 if done => return Ok(()),
                308 if !done => {}
                _ if !status.is_success() && status.as_u16() != 308 => {
                    return Err(self.failure(op, key, resp).await);
                }
                _ => {
                    return Err(Error::backend(
                        op,
                        &self.bucket,
                        key,
                        format!("unexpected HTTP {status} after bytes {offset}-{last} of {size}"),
                    ));
                }
            }
            offset += len;
        }
        // Only an empty object gets here, and those go through the media upload.
        Ok(())
    }

    pub(super) async fn download(&self, key: &str, path: &Path) -> Result<u64> {
        let op = Operation::Get;
        let resp = self.open(op, key, None).await?;
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
            let mut body = resp.into_body();
            let mut n = 0u64;
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|e| {
                    Error::transient(
                        op,
                        &self.bucket,
                        key,
                        format!("reading the body: {}", chain(&e)),
                    )
                })?;
                if let Ok(data) = frame.into_data() {
                    file.write_all(&data)
                        .await
                        .map_err(|e| Error::local_io(op, key, &tmp, e))?;
                    n += data.len() as u64;
                }
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

    pub(super) async fn delete(&self, key: &str) -> Result<()> {
        let op = Operation::Delete;
        let req = http::Request::builder()
            .method(Method::DELETE)
            .uri(self.object_url(key));
        let resp = self.send(op, key, req, HttpRequestBody::empty()).await?;
        if resp.status().is_success() || resp.status() == StatusCode::NOT_FOUND {
            return Ok(());
        }
        Err(self.failure(op, key, resp).await)
    }

    pub(super) async fn list(&self, prefix: &str, mode: ListMode) -> Result<Vec<String>> {
        let op = Operation::Iter;
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut url = format!(
                "{}/storage/v1/b/{}/o?prefix={}&fields=items(name),prefixes,nextPageToken",
                self.base_url,
                enc(&self.bucket),
                enc(prefix)
            );
            if mode == ListMode::Delimited {
                url.push_str("&delimiter=%2F");
            }
            if let Some(t) = &token {
                url.push_str("&pageToken=");
                url.push_str(&enc(t));
            }
            let resp = self
                .send(
                    op,
                    prefix,
                    http::Request::get(url),
                    HttpRequestBody::empty(),
                )
                .await?;
            if !resp.status().is_success() {
                return Err(match self.failure(op, prefix, resp).await {
                    Error::NotFound { .. } => {
                        Error::backend(op, &self.bucket, prefix, "the bucket does not exist")
                    }
                    e => e,
                });
            }
            let body = self.read_body(op, prefix, resp).await?;
            let page: ListPage = serde_json::from_slice(&body)
                .map_err(|e| Error::backend(op, &self.bucket, prefix, format!("listing: {e}")))?;
            out.extend(page.items.into_iter().map(|i| i.name));
            out.extend(page.prefixes);
            match page.next_page_token.filter(|t| !t.is_empty()) {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }
}
