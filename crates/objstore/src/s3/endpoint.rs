//! Where S3 requests go: endpoint URL, region, addressing style and dual-stack, from `endpoint`,
//! `region`, `insecure`, `bucket_lookup_type` and `disable_dualstack`.
//!
//! Like minio-go, AWS's standard S3 endpoints (`s3.amazonaws.com`, `s3.<region>.amazonaws.com`,
//! `s3-<region>.amazonaws.com`, `s3.dualstack.<region>.amazonaws.com`) are resolved from the
//! region, on dual-stack hosts unless `disable_dualstack` is set; any other endpoint is used
//! as given.

use crate::config::{BucketLookupType, S3Config};

/// The resolved addressing of an S3 bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Addressing {
    /// Explicit endpoint URL; `None` = the SDK resolves AWS's endpoint from the region.
    pub(super) endpoint_url: Option<String>,
    /// Region to sign for; `None` = the SDK's region chain, then `us-east-1`.
    pub(super) region: Option<String>,
    /// Path-style (`host/bucket/key`) instead of virtual-hosted (`bucket.host/key`).
    pub(super) path_style: bool,
    /// Dual-stack AWS endpoint.
    pub(super) dual_stack: bool,
}

pub(super) fn resolve(cfg: &S3Config) -> Addressing {
    let host = cfg.endpoint.split(':').next().unwrap_or("");
    let aws = cfg.endpoint.is_empty() || host.ends_with(".amazonaws.com");
    let standard_aws = cfg.endpoint.is_empty() || standard_aws_region(host).is_some();
    let region = if !cfg.region.is_empty() {
        Some(cfg.region.clone())
    } else if !aws {
        Some("us-east-1".to_owned())
    } else {
        standard_aws_region(host).flatten()
    };
    let path_style = match cfg.bucket_lookup_type {
        BucketLookupType::Path => true,
        BucketLookupType::VirtualHosted => false,
        BucketLookupType::Auto => !aws,
    };
    if standard_aws && !cfg.insecure {
        return Addressing {
            endpoint_url: None,
            region: region.or_else(|| (!cfg.endpoint.is_empty()).then(|| "us-east-1".to_owned())),
            path_style,
            dual_stack: !cfg.disable_dualstack,
        };
    }
    let scheme = if cfg.insecure { "http" } else { "https" };
    Addressing {
        endpoint_url: Some(format!("{scheme}://{}", cfg.endpoint)),
        region,
        path_style,
        dual_stack: false,
    }
}

/// For a standard AWS S3 host: `Some(region)` (`Some(None)` for the global `s3.amazonaws.com`);
/// `None` for any other host.
fn standard_aws_region(host: &str) -> Option<Option<String>> {
    let name = host.strip_suffix(".amazonaws.com")?;
    if name == "s3" {
        return Some(None);
    }
    let region = name
        .strip_prefix("s3.dualstack.")
        .or_else(|| name.strip_prefix("s3."))
        .or_else(|| name.strip_prefix("s3-"))?;
    let valid = !region.is_empty()
        && region.contains('-')
        && region
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-');
    valid.then(|| Some(region.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(endpoint: &str) -> S3Config {
        S3Config {
            bucket: "b".into(),
            endpoint: endpoint.into(),
            ..S3Config::default()
        }
    }

    #[test]
    fn aws_endpoints_resolve_from_the_region_on_dual_stack() {
        let a = resolve(&cfg("s3.eu-west-1.amazonaws.com"));
        assert_eq!(a.endpoint_url, None);
        assert_eq!(a.region.as_deref(), Some("eu-west-1"));
        assert!(a.dual_stack && !a.path_style);
        let a = resolve(&cfg("s3-us-west-2.amazonaws.com"));
        assert_eq!(a.region.as_deref(), Some("us-west-2"));
        let a = resolve(&cfg("s3.amazonaws.com"));
        assert_eq!(a.region.as_deref(), Some("us-east-1"));
        let a = resolve(&cfg(""));
        assert_eq!((a.endpoint_url, a.region, a.dual_stack), (None, None, true));
        let mut c = cfg("s3.dualstack.eu-central-1.amazonaws.com");
        c.disable_dualstack = true;
        let a = resolve(&c);
        assert_eq!(a.region.as_deref(), Some("eu-central-1"));
        assert!(!a.dual_stack);
    }

    #[test]
    fn other_endpoints_are_used_as_given() {
        let mut c = cfg("minio:9000");
        c.insecure = true;
        let a = resolve(&c);
        assert_eq!(a.endpoint_url.as_deref(), Some("http://minio:9000"));
        assert_eq!(a.region.as_deref(), Some("us-east-1"));
        assert!(a.path_style && !a.dual_stack);
        let a = resolve(&cfg("bucket.vpce-1a2b.s3.eu-west-1.vpce.amazonaws.com"));
        assert_eq!(
            a.endpoint_url.as_deref(),
            Some("https://bucket.vpce-1a2b.s3.eu-west-1.vpce.amazonaws.com")
        );
        assert!(!a.dual_stack && !a.path_style);
        let mut c = cfg("ceph.local");
        c.bucket_lookup_type = BucketLookupType::VirtualHosted;
        assert!(!resolve(&c).path_style);
    }
}
