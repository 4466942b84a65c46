//! Listen addresses as Go's `net.Listen("tcp", …)` takes Thanos's
//! `--http-address` / `--grpc-address`: `host:port`, `:port` (every
//! interface), `[::]:port`, `[::1]:port`, `localhost:port` (a name, looked up
//! when binding).

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use tokio::net::TcpListener;

use super::ParseError;
use crate::{Error, Result};

/// A validated listen address; the host is looked up only when binding.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ListenAddr {
    /// Empty for every interface (`:10901`); an IPv6 literal without brackets.
    host: String,
    port: u16,
}

impl ListenAddr {
    /// The port (0 = any free port).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The host part, empty for every interface.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Binds a TCP listener. `what` names the server in the error
    /// (`http server`, `grpc server`). A host-less address listens on every
    /// interface: IPv6 and IPv4 where the host has IPv6, IPv4 otherwise, as
    /// Go does.
    pub async fn bind(&self, what: &'static str) -> Result<TcpListener> {
        let err = |source| Error::Bind {
            what,
            addr: self.to_string(),
            source,
        };
        if self.host.is_empty() {
            match TcpListener::bind(("::", self.port)).await {
                Ok(l) => return Ok(l),
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => return Err(err(e)),
                Err(_) => return TcpListener::bind(("0.0.0.0", self.port)).await.map_err(err),
            }
        }
        TcpListener::bind((self.host.as_str(), self.port))
            .await
            .map_err(err)
    }

    /// The first address the host resolves to (every interface: `0.0.0.0`).
    pub fn resolve(&self) -> Result<SocketAddr> {
        use std::net::ToSocketAddrs;
        let host = if self.host.is_empty() {
            "0.0.0.0"
        } else {
            &self.host
        };
        let err = |source| Error::Resolve {
            addr: self.to_string(),
            source,
        };
        (host, self.port)
            .to_socket_addrs()
            .map_err(err)?
            .next()
            .ok_or_else(|| err(std::io::Error::other("no addresses found")))
    }
}

impl FromStr for ListenAddr {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        let bad = |why: &str| {
            ParseError(format!(
                "invalid listen address {s:?}: {why}; expected host:port, :port or [ipv6]:port"
            ))
        };
        let (host, port) = s.rsplit_once(':').ok_or_else(|| bad("missing port"))?;
        let host = match host.strip_prefix('[') {
            Some(h) => h
                .strip_suffix(']')
                .filter(|h| h.parse::<std::net::Ipv6Addr>().is_ok())
                .ok_or_else(|| bad("bad IPv6 literal"))?,
            None if host.contains(':') => {
                return Err(bad("an IPv6 address needs brackets"));
            }
            None if host.contains(['[', ']', '/', ' ']) => return Err(bad("bad host")),
            None => host,
        };
        let port = port
            .parse::<u16>()
            .map_err(|_| bad(&format!("port {port:?} is not a number from 0 to 65535")))?;
        Ok(Self {
            host: host.to_string(),
            port,
        })
    }
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_go_form() {
        for (s, host, port) in [
            (":10901", "", 10901),
            ("0.0.0.0:10901", "0.0.0.0", 10901),
            ("[::]:10901", "::", 10901),
            ("[::1]:9", "::1", 9),
            ("localhost:10901", "localhost", 10901),
            ("my-host.svc:0", "my-host.svc", 0),
        ] {
            let a: ListenAddr = s.parse().unwrap();
            assert_eq!((a.host(), a.port()), (host, port), "{s}");
            assert_eq!(a.to_string(), s, "round trip");
        }
        for bad in [
            "10901", "", "::1:9", "[::1:9", "[x]:9", "h:99999", "h:port", "a b:1",
        ] {
            assert!(bad.parse::<ListenAddr>().is_err(), "{bad:?} should fail");
        }
        let e = "10901".parse::<ListenAddr>().unwrap_err().to_string();
        assert!(e.contains("\"10901\"") && e.contains(":port"), "{e}");
    }

    #[tokio::test]
    async fn binds_every_form() {
        for s in [":0", "127.0.0.1:0", "localhost:0", "[::]:0", "0.0.0.0:0"] {
            let a: ListenAddr = s.parse().unwrap();
            match a.bind("test server").await {
                Ok(l) => assert_ne!(l.local_addr().unwrap().port(), 0),
                // A host without IPv6 cannot bind [::].
                Err(e) if s.starts_with('[') => eprintln!("{s}: {e}"),
                Err(e) => panic!("{s}: {e}"),
            }
        }
        let a: ListenAddr = "localhost:0".parse().unwrap();
        assert!(a.resolve().unwrap().ip().is_loopback());
        assert_eq!(
            ":7".parse::<ListenAddr>().unwrap().resolve().unwrap(),
            "0.0.0.0:7".parse().unwrap()
        );
    }

    #[tokio::test]
    async fn a_taken_port_names_address_and_cause() {
        let held = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = held.local_addr().unwrap().port();
        for s in [format!("127.0.0.1:{port}"), format!(":{port}")] {
            let a: ListenAddr = s.parse().unwrap();
            let e = a.bind("http server").await.unwrap_err();
            let msg = crate::error::chain(&e);
            assert!(
                msg.starts_with(&format!("http server on {s}: bind: ")) && msg.contains("in use"),
                "{msg}"
            );
        }
    }
}
