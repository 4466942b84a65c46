//! `--endpoint.sd-config(-file)`: Thanos's endpoint config file, endpoints
//! with their own gRPC client settings (per-endpoint TLS).
//!
//! ```yaml
//! default_client_config:          # over the --grpc-client-* flags
//!   tls_config: {enabled, insecure_skip_verify, cert_file, key_file, ca_file, min_version}
//!   server_name: ""
//!   compression: ""               # accepted; requests are not compressed
//! endpoints:
//!   - address: host:port          # or dns+ / dnssrv+ (no client_config then)
//!     strict: false
//!     client_config: {…}          # over default_client_config
//! ```
//!
//! Each setting overrides the one below it only when its key is present (an
//! empty string unsets it); giving any of `cert_file`, `key_file`, `ca_file`
//! or `insecure_skip_verify` without `enabled` turns TLS on. The file is read
//! at start-up (`--endpoint.sd-config-reload-interval` is accepted; changes
//! need a restart). Endpoint groups (`group: true`) are refused.

use std::collections::BTreeMap;

use aeon_common::tls::ClientTls;
use aeon_common::tls::args::ClientTlsSpec;
use serde::Deserialize;

use crate::{Error, Result};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct File {
    default_client_config: Option<ClientConfig>,
    endpoints: Vec<EndpointEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EndpointEntry {
    address: String,
    #[serde(default)]
    strict: bool,
    #[serde(default)]
    group: bool,
    #[serde(default)]
    client_config: Option<ClientConfig>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct ClientConfig {
    tls_config: Option<TlsConfig>,
    server_name: Option<String>,
    compression: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct TlsConfig {
    enabled: Option<bool>,
    insecure_skip_verify: Option<bool>,
    cert_file: Option<String>,
    key_file: Option<String>,
    ca_file: Option<String>,
    min_version: Option<String>,
}

impl ClientConfig {
    /// `base` with this config's keys laid over it.
    fn over(&self, base: &ClientTlsSpec) -> ClientTlsSpec {
        let mut s = base.clone();
        if let Some(n) = &self.server_name {
            s.server_name.clone_from(n);
        }
        if let Some(t) = &self.tls_config {
            let set = |dst: &mut String, v: &Option<String>| {
                if let Some(v) = v {
                    dst.clone_from(v);
                }
            };
            set(&mut s.cert_file, &t.cert_file);
            set(&mut s.key_file, &t.key_file);
            set(&mut s.ca_file, &t.ca_file);
            set(&mut s.min_version, &t.min_version);
            if let Some(v) = t.insecure_skip_verify {
                s.insecure_skip_verify = v;
            }
            let implied = t.cert_file.is_some()
                || t.key_file.is_some()
                || t.ca_file.is_some()
                || t.insecure_skip_verify.is_some();
            match t.enabled {
                Some(e) => s.enabled = e,
                None if implied => s.enabled = true,
                None => {}
            }
        }
        s
    }

    fn check(&self, origin: &str) -> Result<()> {
        match self.compression.as_deref() {
            None | Some("" | "none" | "snappy") => Ok(()),
            Some(other) => Err(Error::Flag {
                flag: "endpoint.sd-config",
                reason: format!("{origin}: compression {other:?}: expected \"none\" or \"snappy\""),
            }),
        }
    }
}

/// The endpoints of the file and how to dial each.
#[derive(Debug, Default)]
pub(crate) struct EndpointConfig {
    /// Non-strict addresses, as `--endpoint` values.
    pub(crate) endpoints: Vec<String>,
    /// Strict addresses, as `--endpoint-strict` values.
    pub(crate) strict: Vec<String>,
    /// The client TLS of the file's endpoints (None = plaintext).
    pub(crate) tls: BTreeMap<String, Option<ClientTls>>,
}

impl EndpointConfig {
    /// Parses `text` (from `origin`); `flags` are the `--grpc-client-*`
    /// settings the file's configs are laid over.
    pub(crate) fn parse(text: &str, origin: &str, flags: &ClientTlsSpec) -> Result<Self> {
        let bad = |reason: String| Error::Flag {
            flag: "endpoint.sd-config",
            reason: format!("{origin}: {reason}"),
        };
        let f: File = if text.trim().is_empty() {
            File::default()
        } else {
            serde_yaml_ng::from_str(text).map_err(|e| bad(e.to_string()))?
        };
        let default = match &f.default_client_config {
            Some(c) => {
                c.check(origin)?;
                c.over(flags)
            }
            None => flags.clone(),
        };
        let mut out = Self::default();
        for e in &f.endpoints {
            if e.group {
                return Err(bad(format!(
                    "endpoint {:?}: endpoint groups (group: true) are not supported",
                    e.address
                )));
            }
            if e.address.is_empty() {
                return Err(bad("an endpoint without address".into()));
            }
            let dynamic = e.address.contains('+');
            let spec = match &e.client_config {
                Some(_) if dynamic => {
                    return Err(bad(format!(
                        "endpoint {:?}: client_config is supported for host:port addresses only (no per-endpoint TLS for DNS discovery)",
                        e.address
                    )));
                }
                Some(c) => {
                    c.check(origin)?;
                    c.over(&default)
                }
                None => default.clone(),
            };
            let what = format!("{origin}: endpoint {:?}", e.address);
            let tls = spec.build(&what).map_err(Error::Http)?;
            if !dynamic {
                out.tls.insert(e.address.clone(), tls);
            }
            if e.strict {
                out.strict.push(e.address.clone());
            } else {
                out.endpoints.push(e.address.clone());
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_layer_flags_default_and_endpoint() {
        let flags = ClientTlsSpec {
            min_version: "1.3".into(),
            ..ClientTlsSpec::default()
        };
        let yaml = "
default_client_config:
  tls_config:
    insecure_skip_verify: true
  server_name: default.test
endpoints:
  - address: a:1
  - address: b:2
    strict: true
    client_config:
      tls_config:
        enabled: false
  - address: c:3
    client_config:
      server_name: ''
  - address: dns+store:10901
";
        let c = EndpointConfig::parse(yaml, "f", &flags).unwrap();
        assert_eq!(c.endpoints, vec!["a:1", "c:3", "dns+store:10901"]);
        assert_eq!(c.strict, vec!["b:2"]);
        // insecure_skip_verify without `enabled` turns TLS on.
        let a = c.tls["a:1"].as_ref().unwrap();
        assert_eq!(a.server_name.as_deref(), Some("default.test"));
        assert!(c.tls["b:2"].is_none());
        assert_eq!(c.tls["c:3"].as_ref().unwrap().server_name, None);
        assert!(!c.tls.contains_key("dns+store:10901"));
    }

    #[test]
    fn mistakes_are_named() {
        let e = |y: &str| {
            EndpointConfig::parse(y, "file e.yml", &ClientTlsSpec::default())
                .unwrap_err()
                .to_string()
        };
        let m = e("endpoints:\n  - address: a:1\n    group: true\n");
        assert!(m.contains("e.yml") && m.contains("endpoint groups"), "{m}");
        let m = e("endpoints:\n  - address: dns+a:1\n    client_config: {server_name: x}\n");
        assert!(m.contains("host:port addresses only"), "{m}");
        let m = e("endpoints:\n  - adress: a:1\n");
        assert!(m.contains("adress"), "{m}");
        let m = e("default_client_config:\n  compression: gzip\n");
        assert!(m.contains("compression"), "{m}");
    }
}
