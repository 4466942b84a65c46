//! Endpoint specifications: `host:port`, `dns+host:port`,
//! `dnssrv+_service._proto.name` and `dnssrvnoa+_service._proto.name`
//! (Thanos's `--endpoint` prefixes).

use std::fmt;

use crate::{Error, Result};

/// One endpoint flag value (or file SD target).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Spec {
    /// `host:port` used as is.
    Static(String),
    /// `dns+host:port` (also `dnsdualstack+`): A and AAAA lookup, every
    /// address with the port.
    Dns { host: String, port: u16 },
    /// `dnssrv+name` (`resolve_targets`) or `dnssrvnoa+name`: SRV lookup;
    /// with `resolve_targets` every SRV target is then looked up (A/AAAA),
    /// otherwise the targets are used as host names. The port comes from the
    /// SRV record unless one is given (`dnssrv+name:port`), like Thanos.
    Srv {
        name: String,
        port: Option<u16>,
        resolve_targets: bool,
    },
}

impl Spec {
    /// Parses an endpoint flag value.
    pub fn parse(spec: &str) -> Result<Self> {
        let bad = |reason: &str| Error::InvalidSpec {
            spec: spec.to_owned(),
            reason: reason.to_owned(),
        };
        let s = spec.trim();
        if s.is_empty() {
            return Err(bad("empty address"));
        }
        let srv = s
            .strip_prefix("dnssrv+")
            .map(|r| (r, true))
            .or_else(|| s.strip_prefix("dnssrvnoa+").map(|r| (r, false)));
        if let Some((rest, resolve_targets)) = srv {
            let (name, port) = match rest.rsplit_once(':') {
                Some((n, p)) => (n, Some(p.parse::<u16>().map_err(|_| bad("invalid port"))?)),
                None => (rest, None),
            };
            if name.is_empty() {
                return Err(bad("empty SRV name"));
            }
            return Ok(Self::Srv {
                name: name.to_owned(),
                port,
                resolve_targets,
            });
        }
        if let Some(rest) = s
            .strip_prefix("dns+")
            .or_else(|| s.strip_prefix("dnsdualstack+"))
        {
            let (host, port) = rest
                .rsplit_once(':')
                .ok_or_else(|| bad("dns+ needs host:port"))?;
            let port: u16 = port.parse().map_err(|_| bad("invalid port"))?;
            let host = host.trim_matches(['[', ']']);
            if host.is_empty() {
                return Err(bad("empty host"));
            }
            return Ok(Self::Dns {
                host: host.to_owned(),
                port,
            });
        }
        if s.contains('+') && !s.contains("://") {
            return Err(bad(
                "unknown prefix (expected dns+, dnssrv+, dnssrvnoa+ or none)",
            ));
        }
        let hostport = s.split_once("://").map_or(s, |(_, r)| r);
        match hostport.rsplit_once(':') {
            Some((h, p)) if !h.is_empty() && p.parse::<u16>().is_ok() => {
                Ok(Self::Static(s.to_owned()))
            }
            _ => Err(bad("expected host:port")),
        }
    }

    /// Whether resolving it needs DNS.
    pub fn is_dns(&self) -> bool {
        !matches!(self, Self::Static(_))
    }
}

impl fmt::Display for Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Static(a) => f.write_str(a),
            Self::Dns { host, port } if host.contains(':') => write!(f, "dns+[{host}]:{port}"),
            Self::Dns { host, port } => write!(f, "dns+{host}:{port}"),
            Self::Srv {
                name,
                port,
                resolve_targets,
            } => {
                f.write_str(if *resolve_targets {
                    "dnssrv+"
                } else {
                    "dnssrvnoa+"
                })?;
                f.write_str(name)?;
                match port {
                    Some(p) => write!(f, ":{p}"),
                    None => Ok(()),
                }
            }
        }
    }
}

/// `ip:port` or `host:port`, bracketing IPv6 literals.
pub(crate) fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_thanos_prefixes() {
        assert_eq!(
            Spec::parse("1.2.3.4:19090").unwrap(),
            Spec::Static("1.2.3.4:19090".into())
        );
        assert_eq!(
            Spec::parse("dns+stores.example.org:9090").unwrap(),
            Spec::Dns {
                host: "stores.example.org".into(),
                port: 9090
            }
        );
        assert_eq!(
            Spec::parse("dnssrv+_grpc._tcp.thanos-store.svc").unwrap(),
            Spec::Srv {
                name: "_grpc._tcp.thanos-store.svc".into(),
                port: None,
                resolve_targets: true
            }
        );
        assert_eq!(
            Spec::parse("dnssrvnoa+_grpc._tcp.x:10901").unwrap(),
            Spec::Srv {
                name: "_grpc._tcp.x".into(),
                port: Some(10901),
                resolve_targets: false
            }
        );
        assert_eq!(
            Spec::parse("dns+[::1]:1").unwrap(),
            Spec::Dns {
                host: "::1".into(),
                port: 1
            }
        );
        for bad in [
            "",
            "nohost",
            "dns+noport",
            "dns+h:x",
            "foo+h:1",
            "h:99999",
            "dnssrv+",
            "dnssrv+x:y",
        ] {
            assert!(Spec::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "a:1",
            "dns+h:2",
            "dns+[::1]:3",
            "dnssrv+_grpc._tcp.x",
            "dnssrvnoa+_grpc._tcp.x:4",
        ] {
            assert_eq!(Spec::parse(s).unwrap().to_string(), s);
        }
        assert_eq!(join_host_port("::1", 5), "[::1]:5");
        assert_eq!(join_host_port("h", 5), "h:5");
    }
}
