//! Thanos's S3-compatible cloud types, accepted under their own names and run on the S3 client
//! through each cloud's S3-compatible API (virtual-hosted addressing, SigV4):
//!
//! | type | Thanos fields | S3 config |
//! |---|---|---|
//! | `COS` (Tencent) | `bucket`, `region`, `app_id`, `endpoint`, `secret_id`, `secret_key`, `max_retries`, `http_config` | bucket `<bucket>-<app_id>` at `cos.<region>.myqcloud.com`; or `endpoint` as the bucket URL `https://<bucket>-<app_id>.cos.<region>.myqcloud.com` |
//! | `ALIYUNOSS` | `endpoint`, `bucket`, `access_key_id`, `access_key_secret` | bucket at `endpoint` (e.g. `oss-cn-hangzhou.aliyuncs.com`) |
//! | `BOS` (Baidu) | `bucket`, `endpoint`, `access_key`, `secret_key` | bucket at `s3.<endpoint>` (`bj.bcebos.com` → `s3.bj.bcebos.com`) |
//! | `OBS` (Huawei) | `bucket`, `endpoint`, `access_key`, `secret_key`, `max_retries`, `http_config` | bucket at `endpoint` (e.g. `obs.cn-north-4.myhuaweicloud.com`) |
//!
//! An endpoint may carry `http://` (plain HTTP) or `https://`. The region is taken from the
//! endpoint where the cloud puts it there, else `us-east-1` (which these APIs accept for SigV4).
//! Every other S3 option can be had by writing the equivalent `type: S3` config directly.

use serde::Deserialize;

use super::http::HttpConfig;
use super::s3::{BucketLookupType, S3Config};
use crate::error::{Error, Result};

/// `type: COS`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[allow(missing_docs)]
pub struct CosConfig {
    pub bucket: String,
    pub region: String,
    pub app_id: String,
    pub endpoint: String,
    pub secret_key: String,
    pub secret_id: String,
    pub max_retries: u32,
    pub http_config: HttpConfig,
}

/// `type: ALIYUNOSS`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[allow(missing_docs)]
pub struct OssConfig {
    pub endpoint: String,
    pub bucket: String,
    pub access_key_id: String,
    pub access_key_secret: String,
}

/// `type: BOS` and `type: OBS` share these fields (OBS adds retries and `http_config`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[allow(missing_docs)]
pub struct BosConfig {
    pub bucket: String,
    pub endpoint: String,
    pub access_key: String,
    pub secret_key: String,
}

/// `type: OBS`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[allow(missing_docs)]
pub struct ObsConfig {
    pub bucket: String,
    pub endpoint: String,
    pub access_key: String,
    pub secret_key: String,
    pub max_retries: u32,
    pub http_config: HttpConfig,
}

/// `(host[:port], insecure)` from an endpoint with or without scheme; `None` if it has a path.
fn split_endpoint(endpoint: &str) -> Option<(String, bool)> {
    let (rest, insecure) = if let Some(r) = endpoint.strip_prefix("http://") {
        (r, true)
    } else {
        (endpoint.strip_prefix("https://").unwrap_or(endpoint), false)
    };
    let host = rest.trim_end_matches('/');
    (!host.is_empty() && !host.contains('/')).then(|| (host.to_owned(), insecure))
}

fn required(origin: &str, kind: &str, fields: &[(&str, &str)]) -> Result<()> {
    for (name, value) in fields {
        if value.is_empty() {
            return Err(Error::config(
                origin,
                format!("config.{name}: missing or empty, required for type {kind}"),
            ));
        }
    }
    Ok(())
}

fn s3(
    bucket: &str,
    host: String,
    insecure: bool,
    region: &str,
    key: &str,
    secret: &str,
) -> S3Config {
    S3Config {
        bucket: bucket.to_owned(),
        endpoint: host,
        insecure,
        region: if region.is_empty() {
            "us-east-1".to_owned()
        } else {
            region.to_owned()
        },
        access_key: key.to_owned(),
        secret_key: secret.to_owned(),
        bucket_lookup_type: BucketLookupType::VirtualHosted,
        ..S3Config::default()
    }
}

fn bad_endpoint(origin: &str, endpoint: &str) -> Error {
    Error::config(
        origin,
        format!("config.endpoint: {endpoint:?} is not [scheme://]host[:port]"),
    )
}

/// `COS` → S3.
pub(crate) fn cos(c: &CosConfig, origin: &str) -> Result<S3Config> {
    required(
        origin,
        "COS",
        &[("secret_id", &c.secret_id), ("secret_key", &c.secret_key)],
    )?;
    let mut out = if c.endpoint.is_empty() {
        required(
            origin,
            "COS",
            &[
                ("bucket", &c.bucket),
                ("region", &c.region),
                ("app_id", &c.app_id),
            ],
        )?;
        s3(
            &format!("{}-{}", c.bucket, c.app_id),
            format!("cos.{}.myqcloud.com", c.region),
            false,
            &c.region,
            &c.secret_id,
            &c.secret_key,
        )
    } else {
        // The endpoint is the bucket URL: `<bucket>-<appid>.cos.<region>.myqcloud.com`.
        let (host, insecure) =
            split_endpoint(&c.endpoint).ok_or_else(|| bad_endpoint(origin, &c.endpoint))?;
        let Some((bucket, service)) = host.split_once('.') else {
            return Err(bad_endpoint(origin, &c.endpoint));
        };
        let region = service
            .strip_prefix("cos.")
            .and_then(|r| r.split('.').next())
            .unwrap_or(&c.region);
        s3(
            bucket,
            service.to_owned(),
            insecure,
            region,
            &c.secret_id,
            &c.secret_key,
        )
    };
    out.max_retries = c.max_retries;
    out.http_config = c.http_config.clone();
    Ok(out)
}

/// `ALIYUNOSS` → S3.
pub(crate) fn oss(c: &OssConfig, origin: &str) -> Result<S3Config> {
    required(
        origin,
        "ALIYUNOSS",
        &[
            ("endpoint", &c.endpoint),
            ("bucket", &c.bucket),
            ("access_key_id", &c.access_key_id),
            ("access_key_secret", &c.access_key_secret),
        ],
    )?;
    let (host, insecure) =
        split_endpoint(&c.endpoint).ok_or_else(|| bad_endpoint(origin, &c.endpoint))?;
    // `oss-cn-hangzhou.aliyuncs.com` → region `cn-hangzhou`.
    let region = host
        .split('.')
        .next()
        .and_then(|l| l.strip_prefix("oss-"))
        .unwrap_or("")
        .to_owned();
    Ok(s3(
        &c.bucket,
        host,
        insecure,
        &region,
        &c.access_key_id,
        &c.access_key_secret,
    ))
}

/// `BOS` → S3.
pub(crate) fn bos(c: &BosConfig, origin: &str) -> Result<S3Config> {
    required(
        origin,
        "BOS",
        &[
            ("bucket", &c.bucket),
            ("endpoint", &c.endpoint),
            ("access_key", &c.access_key),
            ("secret_key", &c.secret_key),
        ],
    )?;
    let (host, insecure) =
        split_endpoint(&c.endpoint).ok_or_else(|| bad_endpoint(origin, &c.endpoint))?;
    // BOS serves the S3 API on `s3.<region>.bcebos.com`.
    let host = if host.ends_with(".bcebos.com") && !host.starts_with("s3.") {
        format!("s3.{host}")
    } else {
        host
    };
    let region = host.split('.').nth(1).unwrap_or("").to_owned();
    Ok(s3(
        &c.bucket,
        host,
        insecure,
        &region,
        &c.access_key,
        &c.secret_key,
    ))
}

/// `OBS` → S3.
pub(crate) fn obs(c: &ObsConfig, origin: &str) -> Result<S3Config> {
    required(
        origin,
        "OBS",
        &[
            ("bucket", &c.bucket),
            ("endpoint", &c.endpoint),
            ("access_key", &c.access_key),
            ("secret_key", &c.secret_key),
        ],
    )?;
    let (host, insecure) =
        split_endpoint(&c.endpoint).ok_or_else(|| bad_endpoint(origin, &c.endpoint))?;
    // `obs.cn-north-4.myhuaweicloud.com` → region `cn-north-4`.
    let region = host
        .strip_prefix("obs.")
        .and_then(|r| r.split('.').next())
        .unwrap_or("")
        .to_owned();
    let mut out = s3(
        &c.bucket,
        host,
        insecure,
        &region,
        &c.access_key,
        &c.secret_key,
    );
    out.max_retries = c.max_retries;
    out.http_config = c.http_config.clone();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cos_from_parts_and_from_bucket_url() {
        let c = CosConfig {
            bucket: "metrics".into(),
            region: "ap-beijing".into(),
            app_id: "1250000000".into(),
            secret_id: "id".into(),
            secret_key: "key".into(),
            max_retries: 2,
            ..CosConfig::default()
        };
        let s = cos(&c, "x").unwrap();
        assert_eq!(s.bucket, "metrics-1250000000");
        assert_eq!(s.endpoint, "cos.ap-beijing.myqcloud.com");
        assert_eq!(s.region, "ap-beijing");
        assert_eq!(
            (s.access_key.as_str(), s.secret_key.as_str()),
            ("id", "key")
        );
        assert_eq!(s.bucket_lookup_type, BucketLookupType::VirtualHosted);
        assert_eq!(s.max_retries, 2);
        let c = CosConfig {
            endpoint: "https://metrics-1250000000.cos.ap-guangzhou.myqcloud.com".into(),
            secret_id: "id".into(),
            secret_key: "key".into(),
            ..CosConfig::default()
        };
        let s = cos(&c, "x").unwrap();
        assert_eq!(s.bucket, "metrics-1250000000");
        assert_eq!(s.endpoint, "cos.ap-guangzhou.myqcloud.com");
        assert_eq!(s.region, "ap-guangzhou");
        let e = cos(&CosConfig::default(), "bucket.yml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("config.secret_id") && e.contains("COS"), "{e}");
    }

    #[test]
    fn oss_bos_obs_map_onto_their_s3_endpoints() {
        let s = oss(
            &OssConfig {
                endpoint: "http://oss-cn-hangzhou.aliyuncs.com".into(),
                bucket: "b".into(),
                access_key_id: "k".into(),
                access_key_secret: "s".into(),
            },
            "x",
        )
        .unwrap();
        assert_eq!(
            (s.endpoint.as_str(), s.insecure, s.region.as_str()),
            ("oss-cn-hangzhou.aliyuncs.com", true, "cn-hangzhou")
        );
        let s = bos(
            &BosConfig {
                bucket: "b".into(),
                endpoint: "bj.bcebos.com".into(),
                access_key: "k".into(),
                secret_key: "s".into(),
            },
            "x",
        )
        .unwrap();
        assert_eq!(
            (s.endpoint.as_str(), s.region.as_str()),
            ("s3.bj.bcebos.com", "bj")
        );
        let s = obs(
            &ObsConfig {
                bucket: "b".into(),
                endpoint: "https://obs.cn-north-4.myhuaweicloud.com".into(),
                access_key: "k".into(),
                secret_key: "s".into(),
                max_retries: 1,
                ..ObsConfig::default()
            },
            "x",
        )
        .unwrap();
        assert_eq!(
            (s.endpoint.as_str(), s.insecure, s.region.as_str()),
            ("obs.cn-north-4.myhuaweicloud.com", false, "cn-north-4")
        );
        let e = obs(
            &ObsConfig {
                bucket: "b".into(),
                endpoint: "https://h/path".into(),
                access_key: "k".into(),
                secret_key: "s".into(),
                ..ObsConfig::default()
            },
            "x",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("config.endpoint"), "{e}");
    }
}
