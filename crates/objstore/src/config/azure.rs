//! `type: AZURE` with the fields, defaults and checks of Thanos's `azure.Config`.

use std::time::Duration;

use serde::Deserialize;

use super::http::{GoDuration, HttpConfig};
use crate::error::{Error, Result};

/// `type: AZURE` settings.
///
/// Credentials, in Thanos's order: `storage_connection_string`; `storage_account_key`;
/// `az_tenant_id` + `client_id` + `client_secret`; `user_assigned_id` (managed identity);
/// otherwise the environment (`AZURE_CLIENT_ID` with `AZURE_CLIENT_SECRET` or
/// `AZURE_FEDERATED_TOKEN_FILE` for workload identity, `AZURE_TENANT_ID`), then the system
/// managed identity.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AzureConfig {
    /// Tenant of the service principal (with `client_id`, `client_secret`).
    pub az_tenant_id: String,
    /// Service principal client id (with `az_tenant_id`, `client_secret`).
    pub client_id: String,
    /// Service principal secret.
    pub client_secret: String,
    /// Storage account name (required).
    pub storage_account: String,
    /// Storage account key (shared key authentication).
    pub storage_account_key: String,
    /// `DefaultEndpointsProtocol=…;AccountName=…;AccountKey=…;BlobEndpoint=…` (Azurite too).
    pub storage_connection_string: String,
    /// Create the container at start-up when it does not exist.
    pub storage_create_container: bool,
    /// Container name (required).
    pub container: String,
    /// Blob service domain: the URL is `https://<storage_account>.<endpoint>/`.
    pub endpoint: String,
    /// Client id of a user-assigned managed identity.
    pub user_assigned_id: String,
    /// Retries of failing requests (fills `pipeline_config.max_tries` and
    /// `reader_config.max_retry_requests` when those are 0).
    pub max_retries: u32,
    /// Download retries.
    pub reader_config: ReaderConfig,
    /// Request retries and per-try timeout.
    pub pipeline_config: PipelineConfig,
    /// HTTP transport.
    pub http_config: HttpConfig,
    /// Deprecated in Thanos (the SDK sets it); accepted with a warning, unused.
    pub msi_resource: String,
}

impl Default for AzureConfig {
    fn default() -> Self {
        Self {
            az_tenant_id: String::new(),
            client_id: String::new(),
            client_secret: String::new(),
            storage_account: String::new(),
            storage_account_key: String::new(),
            storage_connection_string: String::new(),
            storage_create_container: true,
            container: String::new(),
            endpoint: DEFAULT_AZURE_ENDPOINT.to_owned(),
            user_assigned_id: String::new(),
            max_retries: 0,
            reader_config: ReaderConfig::default(),
            pipeline_config: PipelineConfig::default(),
            http_config: HttpConfig::default(),
            msi_resource: String::new(),
        }
    }
}

/// Azure's public blob endpoint domain.
pub const DEFAULT_AZURE_ENDPOINT: &str = "blob.core.windows.net";

/// `reader_config`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReaderConfig {
    /// Retries of a failed download (`0` = `max_retries`, then the default).
    pub max_retry_requests: u32,
}

/// `pipeline_config` (Azure SDK retry policy).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PipelineConfig {
    /// Retries of a failed request (`0` = `max_retries`, then the default).
    pub max_tries: u32,
    /// Time limit of one try, body included (`0` = none).
    pub try_timeout: GoDuration,
    /// Wait before the first retry (`0` = default), doubling up to `max_retry_delay`.
    pub retry_delay: GoDuration,
    /// Longest wait between retries (`0` = default).
    pub max_retry_delay: GoDuration,
}

/// The parts of `storage_connection_string` this client uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectionString {
    /// `AccountName`.
    pub account_name: Option<String>,
    /// `AccountKey`.
    pub account_key: Option<String>,
    /// `BlobEndpoint` (for Azurite: `http://127.0.0.1:10000/devstoreaccount1`).
    pub blob_endpoint: Option<String>,
    /// `DefaultEndpointsProtocol`.
    pub protocol: Option<String>,
    /// `EndpointSuffix`.
    pub endpoint_suffix: Option<String>,
    /// `SharedAccessSignature`.
    pub sas: Option<String>,
}

/// A part of a connection string that is not `Key=Value` (the part as written).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not Key=Value")]
pub struct BadConnectionStringPart(pub String);

impl ConnectionString {
    /// Parses `Key=Value;…` (values may contain `=`); unknown keys are ignored, like Azure's SDKs.
    pub fn parse(text: &str) -> std::result::Result<Self, BadConnectionStringPart> {
        let mut out = Self::default();
        for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((k, v)) = part.split_once('=') else {
                return Err(BadConnectionStringPart(part.to_owned()));
            };
            let v = Some(v.to_owned());
            match k {
                "AccountName" => out.account_name = v,
                "AccountKey" => out.account_key = v,
                "BlobEndpoint" => out.blob_endpoint = v,
                "DefaultEndpointsProtocol" => out.protocol = v,
                "EndpointSuffix" => out.endpoint_suffix = v,
                "SharedAccessSignature" => out.sas = v,
                _ => {}
            }
        }
        Ok(out)
    }
}

impl AzureConfig {
    /// Retries of a request (Thanos's `pipeline_config.max_tries`, falling back to `max_retries`).
    pub fn request_retries(&self) -> u32 {
        if self.pipeline_config.max_tries > 0 {
            self.pipeline_config.max_tries
        } else {
            self.max_retries
        }
    }

    /// Backoff bounds from `pipeline_config` (`None` = default).
    pub fn retry_delays(&self) -> (Option<Duration>, Option<Duration>) {
        let d = |g: GoDuration| (!g.0.is_zero()).then_some(g.0);
        (
            d(self.pipeline_config.retry_delay),
            d(self.pipeline_config.max_retry_delay),
        )
    }
}

pub(crate) fn validate(cfg: &AzureConfig, origin: &str) -> Result<()> {
    let mut problems = Vec::new();
    if !cfg.user_assigned_id.is_empty() && !cfg.storage_account_key.is_empty() {
        problems.push("config.user_assigned_id: cannot be set with storage_account_key");
    }
    if !cfg.user_assigned_id.is_empty() && !cfg.storage_connection_string.is_empty() {
        problems.push("config.user_assigned_id: cannot be set with storage_connection_string");
    }
    if !cfg.user_assigned_id.is_empty() && !cfg.client_id.is_empty() {
        problems.push("config.user_assigned_id: cannot be set with client_id");
    }
    let sp = [&cfg.az_tenant_id, &cfg.client_id, &cfg.client_secret];
    if sp.iter().any(|s| !s.is_empty()) && sp.iter().any(|s| s.is_empty()) {
        problems.push("config.az_tenant_id/client_id/client_secret: must be set together");
    }
    if !cfg.storage_account_key.is_empty() && !cfg.storage_connection_string.is_empty() {
        problems.push("config.storage_account_key: cannot be set with storage_connection_string");
    }
    if cfg.storage_account.is_empty() {
        problems.push("config.storage_account: missing or empty, the storage account is required");
    }
    if cfg.container.is_empty() {
        problems.push("config.container: missing or empty, the container name is required");
    }
    if cfg.storage_connection_string.is_empty() && cfg.endpoint.is_empty() {
        problems.push("config.endpoint: empty; the default is blob.core.windows.net");
    }
    if !problems.is_empty() {
        return Err(Error::config(origin, problems.join("; ")));
    }
    if !cfg.storage_connection_string.is_empty() {
        let cs = ConnectionString::parse(&cfg.storage_connection_string)
            .map_err(|e| Error::config(origin, format!("config.storage_connection_string: {e}")))?;
        if cs.account_key.is_none() && cs.sas.is_none() {
            return Err(Error::config(
                origin,
                "config.storage_connection_string: needs AccountKey or SharedAccessSignature",
            ));
        }
    }
    if !cfg.msi_resource.is_empty() {
        tracing::warn!(
            origin,
            "config.msi_resource is deprecated and has no effect"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_strings_parse() {
        let cs = ConnectionString::parse(
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5==;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;",
        )
        .unwrap();
        assert_eq!(cs.account_name.as_deref(), Some("devstoreaccount1"));
        assert_eq!(cs.account_key.as_deref(), Some("a2V5=="));
        assert_eq!(
            cs.blob_endpoint.as_deref(),
            Some("http://127.0.0.1:10000/devstoreaccount1")
        );
        assert!(ConnectionString::parse("AccountName").is_err());
    }

    #[test]
    fn max_retries_fills_pipeline_tries() {
        let mut c = AzureConfig {
            max_retries: 3,
            ..AzureConfig::default()
        };
        assert_eq!(c.request_retries(), 3);
        c.pipeline_config.max_tries = 5;
        assert_eq!(c.request_retries(), 5);
    }
}
