//! TLS versions, cipher suites and curves by the names Thanos's flags and
//! the web config take (Go's `crypto/tls` constant names).

use std::fmt;
use std::str::FromStr;

use rustls::SupportedCipherSuite;
use rustls::crypto::SupportedKxGroup;
use rustls::crypto::aws_lc_rs::{cipher_suite as cs, kx_group};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A TLS protocol version. Parses Thanos's flag spelling (`1.2`) and the
/// web config's (`TLS12`); prints the flag spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum TlsVersion {
    Tls10,
    Tls11,
    #[default]
    Tls12,
    Tls13,
}

impl FromStr for TlsVersion {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "1.0" | "TLS10" => Self::Tls10,
            "1.1" | "TLS11" => Self::Tls11,
            "1.2" | "TLS12" => Self::Tls12,
            "1.3" | "TLS13" => Self::Tls13,
            other => {
                return Err(format!(
                    "invalid TLS version: {other}, valid values are 1.0, 1.1, 1.2, 1.3"
                ));
            }
        })
    }
}

impl fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Tls10 => "1.0",
            Self::Tls11 => "1.1",
            Self::Tls12 => "1.2",
            Self::Tls13 => "1.3",
        })
    }
}

impl Serialize for TlsVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TlsVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // YAML reads `1.2` as a number.
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            S(String),
            F(f64),
        }
        let s = match Raw::deserialize(d)? {
            Raw::S(s) => s,
            Raw::F(f) => format!("{f:.1}"),
        };
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Go's TLS 1.2 cipher suite names rustls implements.
const TLS12_SUITES: &[(&str, SupportedCipherSuite)] = &[
    (
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
        cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        cs::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
    (
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
        cs::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
];

/// Go's TLS 1.3 suite names: accepted, and like Go always all enabled.
const TLS13_NAMES: &[&str] = &[
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
];

/// Suites Go knows that rustls does not implement (CBC, RSA key exchange,
/// 3DES, RC4): named in the error so that the message says why.
const GO_ONLY_SUITES: &[&str] = &[
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_RSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
];

/// The suites to offer for Go cipher names: every TLS 1.3 suite plus the
/// named TLS 1.2 ones, in the given order.
pub fn cipher_suites(names: &[String]) -> Result<Vec<SupportedCipherSuite>, String> {
    let mut out: Vec<SupportedCipherSuite> = vec![
        cs::TLS13_AES_256_GCM_SHA384,
        cs::TLS13_AES_128_GCM_SHA256,
        cs::TLS13_CHACHA20_POLY1305_SHA256,
    ];
    for n in names {
        if TLS13_NAMES.contains(&n.as_str()) {
            continue;
        }
        match TLS12_SUITES.iter().find(|(name, _)| name == n) {
            Some((_, s)) => {
                if !out.contains(s) {
                    out.push(*s);
                }
            }
            None if GO_ONLY_SUITES.contains(&n.as_str()) => {
                return Err(format!(
                    "cipher suite {n} is not supported (only ECDHE with AES-GCM or \
                     ChaCha20-Poly1305 are)"
                ));
            }
            None => {
                let mut valid: Vec<&str> = TLS12_SUITES.iter().map(|(n, _)| *n).collect();
                valid.extend(TLS13_NAMES);
                valid.sort_unstable();
                return Err(format!(
                    "invalid cipher suite: {n}, valid values are {}",
                    valid.join(", ")
                ));
            }
        }
    }
    Ok(out)
}

const CURVES: &[(&str, &dyn SupportedKxGroup)] = &[
    ("CurveP256", kx_group::SECP256R1),
    ("CurveP384", kx_group::SECP384R1),
    ("X25519", kx_group::X25519),
    ("X25519MLKEM768", kx_group::X25519MLKEM768),
    ("SecP256r1MLKEM768", kx_group::SECP256R1MLKEM768),
];

/// The key exchange groups for Go curve names, in the given order.
pub fn curves(names: &[String]) -> Result<Vec<&'static dyn SupportedKxGroup>, String> {
    let mut out: Vec<&'static dyn SupportedKxGroup> = Vec::new();
    for n in names {
        match CURVES.iter().find(|(name, _)| name == n) {
            Some((_, g)) => out.push(*g),
            None if n == "CurveP521" || n == "SecP384r1MLKEM1024" => {
                return Err(format!("curve {n} is not supported"));
            }
            None => {
                let valid: Vec<&str> = CURVES.iter().map(|(n, _)| *n).collect();
                return Err(format!(
                    "invalid curve: {n}, valid values are {}",
                    valid.join(", ")
                ));
            }
        }
    }
    Ok(out)
}
