//! A small HTTP client for the Prometheus APIs the sidecar uses: readiness,
//! status (config, flags), `/metrics`, the label and series APIs, remote
//! read ([`remote_read`]) and metadata, exemplars and targets ([`scrape`]).

pub mod remote_read;
pub mod scrape;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aeon_common::http_client::HttpClientConfig;

use aeon_model::{Label, Labels, Matcher, Timestamp};
use serde::Deserialize;

use crate::{Error, Result};

/// Largest body we read from a non-streaming Prometheus answer.
const MAX_BODY: usize = 256 << 20;

/// Client of one Prometheus server.
#[derive(Debug, Clone)]
pub struct PromClient {
    http: reqwest::Client,
    base: String,
    timeout: Duration,
    /// Credentials of every request (`--prometheus.http-client`).
    config: Arc<HttpClientConfig>,
}

/// The Prometheus config facts the sidecar needs.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PromConfig {
    /// `global.external_labels`.
    pub external_labels: Labels,
}

#[derive(Deserialize)]
struct ApiResponse<T> {
    status: String,
    #[serde(default = "Option::default")]
    data: Option<T>,
    #[serde(default)]
    error: String,
}

#[derive(Deserialize)]
struct ConfigData {
    yaml: String,
}

#[derive(Deserialize, Default)]
struct PromYaml {
    #[serde(default)]
    global: PromGlobal,
}

#[derive(Deserialize, Default)]
struct PromGlobal {
    #[serde(default)]
    external_labels: BTreeMap<String, String>,
}

impl PromClient {
    /// A client for `base_url` (e.g. `http://localhost:9090`); `timeout`
    /// bounds every non-streaming request.
    pub fn new(base_url: &str, timeout: Duration) -> Result<Self> {
        Self::with_config(base_url, timeout, HttpClientConfig::default())
    }

    /// [`PromClient::new`] with Thanos's HTTP client config
    /// (`--prometheus.http-client`): TLS for `https://`, credentials, proxy,
    /// idle connections.
    pub fn with_config(
        base_url: &str,
        timeout: Duration,
        config: HttpClientConfig,
    ) -> Result<Self> {
        let base = base_url.trim_end_matches('/').to_string();
        let bad = |reason: &str| Error::PrometheusUrl {
            url: base_url.to_string(),
            reason: reason.to_string(),
        };
        let rest = base
            .strip_prefix("http://")
            .or_else(|| base.strip_prefix("https://"))
            .ok_or_else(|| bad("expected http://host:port or https://host:port"))?;
        if rest.is_empty() {
            return Err(bad("expected http://host:port or https://host:port"));
        }
        let tls =
            config
                .tls("--prometheus.http-client")
                .map_err(|source| Error::PrometheusClient {
                    what: "TLS".into(),
                    source,
                })?;
        let t = &config.transport_config;
        let mut b = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(t.idle_conn_timeout().unwrap_or(Duration::from_secs(90)))
            .user_agent(concat!("aeon-sidecar/", env!("CARGO_PKG_VERSION")))
            .tls_backend_preconfigured((*tls).clone());
        if let Some(n) = t.max_idle_conns_per_host() {
            b = b.pool_max_idle_per_host(n);
        }
        if !config.proxy_url.is_empty() {
            let proxy = reqwest::Proxy::all(&config.proxy_url)
                .map_err(|e| bad(&format!("proxy_url {:?}: {e}", config.proxy_url)))?;
            b = b.proxy(proxy);
        }
        let http = b.build().map_err(|e| bad(&e.to_string()))?;
        Ok(Self {
            http,
            base,
            timeout,
            config: Arc::new(config),
        })
    }

    /// The base URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    pub(crate) fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request with the configured credentials (files read now).
    pub(crate) fn request(
        &self,
        method: reqwest::Method,
        url: &str,
    ) -> Result<reqwest::RequestBuilder> {
        let req = self.http.request(method, url);
        match self.config.authorization() {
            Ok(Some(auth)) => Ok(req.header(reqwest::header::AUTHORIZATION, auth)),
            Ok(None) => Ok(req),
            Err(source) => Err(Error::PrometheusClient {
                what: format!("credentials for {url}"),
                source,
            }),
        }
    }

    fn get(&self, url: &str) -> Result<reqwest::RequestBuilder> {
        self.request(reqwest::Method::GET, url)
    }

    /// Sends a status request, bounded by the client timeout.
    async fn send(&self, req: reqwest::RequestBuilder, url: &str) -> Result<reqwest::Response> {
        self.send_unbounded(req.timeout(self.timeout), url).await
    }

    /// Sends a query request: bounded only by the caller (a dropped gRPC
    /// call drops the request, which closes the connection).
    async fn send_unbounded(
        &self,
        req: reqwest::RequestBuilder,
        url: &str,
    ) -> Result<reqwest::Response> {
        let resp = req
            .send()
            .await
            .map_err(|source| Error::PrometheusRequest {
                url: url.to_string(),
                source,
            })?;
        check_status(resp, url).await
    }

    async fn body(&self, resp: reqwest::Response, url: &str) -> Result<bytes::Bytes> {
        if resp.content_length().is_some_and(|l| l > MAX_BODY as u64) {
            return Err(Error::PrometheusResponse {
                url: url.to_string(),
                reason: format!("body larger than {MAX_BODY} bytes"),
            });
        }
        resp.bytes()
            .await
            .map_err(|source| Error::PrometheusRequest {
                url: url.to_string(),
                source,
            })
    }

    async fn get_api<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T> {
        let url = self.endpoint(path);
        let req = self.get(&url)?.query(query);
        let resp = if path.starts_with("/api/v1/status/") {
            self.send(req, &url).await?
        } else {
            self.send_unbounded(req, &url).await?
        };
        let body = self.body(resp, &url).await?;
        parse_api(&body, &url)
    }

    /// `GET /-/ready`: Ok once Prometheus serves queries.
    pub async fn ready(&self) -> Result<()> {
        let url = self.endpoint("/-/ready");
        self.send(self.get(&url)?, &url).await.map(|_| ())
    }

    /// `GET /api/v1/status/config`: external labels.
    pub async fn config(&self) -> Result<PromConfig> {
        let data: ConfigData = self.get_api("/api/v1/status/config", &[]).await?;
        parse_config_yaml(&data.yaml).map_err(|reason| Error::PrometheusResponse {
            url: self.endpoint("/api/v1/status/config"),
            reason,
        })
    }

    /// `GET /api/v1/status/flags`: all flags as strings.
    pub async fn flags(&self) -> Result<BTreeMap<String, String>> {
        self.get_api("/api/v1/status/flags", &[]).await
    }

    /// `storage.tsdb.{min,max}-block-duration` from the flags.
    pub async fn block_durations(&self) -> Result<(Duration, Duration)> {
        let flags = self.flags().await?;
        let get = |name: &str| -> Result<Duration> {
            let v = flags.get(name).ok_or_else(|| Error::PrometheusResponse {
                url: self.endpoint("/api/v1/status/flags"),
                reason: format!("flag {name} missing"),
            })?;
            aeon_common::flags::parse_duration(v).map_err(|e| Error::PrometheusResponse {
                url: self.endpoint("/api/v1/status/flags"),
                reason: format!("flag {name}={v:?}: {e}"),
            })
        };
        Ok((
            get("storage.tsdb.min-block-duration")?,
            get("storage.tsdb.max-block-duration")?,
        ))
    }

    /// Lowest timestamp Prometheus holds, in ms, from
    /// `prometheus_tsdb_lowest_timestamp_seconds` on `/metrics`.
    pub async fn lowest_timestamp(&self) -> Result<Timestamp> {
        let url = self.endpoint("/metrics");
        let resp = self.send(self.get(&url)?, &url).await?;
        let body = self.body(resp, &url).await?;
        let text = String::from_utf8_lossy(&body);
        parse_lowest_timestamp(&text).ok_or_else(|| Error::PrometheusResponse {
            url,
            reason: "metric prometheus_tsdb_lowest_timestamp_seconds not found".into(),
        })
    }

    /// `GET /api/v1/labels`.
    pub async fn label_names(
        &self,
        matchers: &[Matcher],
        start: Timestamp,
        end: Timestamp,
    ) -> Result<Vec<String>> {
        let q = range_query(matchers, start, end);
        Ok(self
            .get_api::<Option<Vec<String>>>("/api/v1/labels", &q)
            .await?
            .unwrap_or_default())
    }

    /// `GET /api/v1/label/<name>/values`.
    pub async fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        start: Timestamp,
        end: Timestamp,
    ) -> Result<Vec<String>> {
        let q = range_query(matchers, start, end);
        let path = format!("/api/v1/label/{}/values", escape_path_segment(name));
        Ok(self
            .get_api::<Option<Vec<String>>>(&path, &q)
            .await?
            .unwrap_or_default())
    }

    /// `GET /api/v1/series` (needs at least one matcher).
    pub async fn series(
        &self,
        matchers: &[Matcher],
        start: Timestamp,
        end: Timestamp,
    ) -> Result<Vec<Labels>> {
        let q = range_query(matchers, start, end);
        let sets: Option<Vec<BTreeMap<String, String>>> =
            self.get_api("/api/v1/series", &q).await?;
        Ok(sets
            .unwrap_or_default()
            .into_iter()
            .map(|m| {
                Labels::from_sorted(
                    m.into_iter()
                        .map(|(n, v)| Label { name: n, value: v })
                        .collect(),
                )
            })
            .collect())
    }

    /// `POST /-/reload` (needs `--web.enable-lifecycle`).
    pub async fn reload(&self) -> Result<()> {
        let url = self.endpoint("/-/reload");
        self.send(self.request(reqwest::Method::POST, &url)?, &url)
            .await
            .map(|_| ())
    }
}

/// Turns a non-2xx answer into [`Error::PrometheusStatus`] with the body text.
pub(crate) async fn check_status(resp: reqwest::Response, url: &str) -> Result<reqwest::Response> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let mut body = resp.text().await.unwrap_or_default();
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&body)
        && let Some(e) = v.get("error").and_then(|e| e.as_str())
    {
        body = e.to_string();
    }
    body.truncate(512);
    Err(Error::PrometheusStatus {
        url: url.to_string(),
        status: status.as_u16(),
        body: body.trim().to_string(),
    })
}

fn parse_api<T: serde::de::DeserializeOwned>(body: &[u8], url: &str) -> Result<T> {
    let r: ApiResponse<T> =
        serde_json::from_slice(body).map_err(|e| Error::PrometheusResponse {
            url: url.to_string(),
            reason: format!("invalid JSON: {e}"),
        })?;
    if r.status != "success" {
        return Err(Error::PrometheusResponse {
            url: url.to_string(),
            reason: format!("status {:?}: {}", r.status, r.error),
        });
    }
    r.data.ok_or_else(|| Error::PrometheusResponse {
        url: url.to_string(),
        reason: "no data".into(),
    })
}

/// External labels from Prometheus's config YAML.
pub fn parse_config_yaml(yaml: &str) -> std::result::Result<PromConfig, String> {
    let y: PromYaml =
        serde_yaml_ng::from_str(yaml).map_err(|e| format!("invalid config YAML: {e}"))?;
    Ok(PromConfig {
        external_labels: Labels::new(
            y.global
                .external_labels
                .into_iter()
                .map(|(n, v)| Label { name: n, value: v })
                .collect(),
        ),
    })
}

/// `prometheus_tsdb_lowest_timestamp_seconds` (ms) from exposition text.
pub fn parse_lowest_timestamp(text: &str) -> Option<Timestamp> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix("prometheus_tsdb_lowest_timestamp_seconds")?;
        let value = rest
            .trim_start_matches(|c| c != ' ')
            .split_whitespace()
            .next()?;
        let secs: f64 = value.parse().ok()?;
        secs.is_finite().then_some((secs * 1000.0) as i64)
    })
}

/// Query parameters `match[]`, `start`, `end` (seconds with ms precision).
fn range_query(
    matchers: &[Matcher],
    start: Timestamp,
    end: Timestamp,
) -> Vec<(&'static str, String)> {
    let mut q = Vec::with_capacity(3);
    if !matchers.is_empty() {
        q.push(("match[]", selector(matchers)));
    }
    q.push(("start", format_ts(start)));
    q.push(("end", format_ts(end)));
    q
}

/// Clamp for HTTP API times: Prometheus converts seconds to ms in an i64, so
/// keep far from overflow (±~31 000 years is plenty).
const API_TIME_LIMIT_MS: i64 = 1_000_000_000_000_000;

/// A ms timestamp as Prometheus API seconds (`1700000000.123`).
pub fn format_ts(ms: Timestamp) -> String {
    let ms = ms.clamp(-API_TIME_LIMIT_MS, API_TIME_LIMIT_MS);
    let sign = if ms < 0 { "-" } else { "" };
    let a = ms.unsigned_abs();
    format!("{sign}{}.{:03}", a / 1000, a % 1000)
}

/// A PromQL series selector `{a="b",c=~"d"}` for matchers (Go-style string
/// escaping; names that are not legacy identifiers are quoted).
pub fn selector(matchers: &[Matcher]) -> String {
    let mut s = String::from("{");
    for (i, m) in matchers.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        if is_legacy_name(&m.name) {
            s.push_str(&m.name);
        } else {
            quote_into(&mut s, &m.name);
        }
        s.push_str(&m.kind.to_string());
        quote_into(&mut s, &m.value);
    }
    s.push('}');
    s
}

fn is_legacy_name(n: &str) -> bool {
    let mut chars = n.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn quote_into(out: &mut String, v: &str) {
    out.push('"');
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn escape_path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use aeon_model::MatchType;

    #[test]
    fn external_labels_from_config_yaml() {
        let y = "global:\n  scrape_interval: 15s\n  external_labels:\n    replica: \"0\"\n    cluster: eu1\nscrape_configs: []\n";
        let c = parse_config_yaml(y).unwrap();
        assert_eq!(
            c.external_labels,
            Labels::from_pairs(&[("cluster", "eu1"), ("replica", "0")])
        );
        assert!(
            parse_config_yaml("global: {}\n")
                .unwrap()
                .external_labels
                .is_empty()
        );
        assert!(parse_config_yaml("global: [").is_err());
    }

    #[test]
    fn lowest_timestamp_from_metrics() {
        let t = "# HELP prometheus_tsdb_lowest_timestamp_seconds Lowest timestamp value stored in the database.\n# TYPE prometheus_tsdb_lowest_timestamp_seconds gauge\nprometheus_tsdb_lowest_timestamp_seconds 1.7e+09\nprometheus_tsdb_lowest_timestamp 1.7e+12\n";
        assert_eq!(parse_lowest_timestamp(t), Some(1_700_000_000_000));
        assert_eq!(parse_lowest_timestamp("up 1\n"), None);
    }

    #[test]
    fn selector_escaping() {
        let ms = vec![
            Matcher::new(MatchType::Equal, "job", "a\"b\\c").unwrap(),
            Matcher::new(MatchType::RegexMatch, "__name__", "up|x.*").unwrap(),
            Matcher::new(MatchType::NotEqual, "odd.name", "é\n").unwrap(),
        ];
        assert_eq!(
            selector(&ms),
            r#"{job="a\"b\\c",__name__=~"up|x.*","odd.name"!="é\n"}"#
        );
    }

    #[test]
    fn timestamps_as_seconds() {
        assert_eq!(format_ts(1_700_000_000_123), "1700000000.123");
        assert_eq!(format_ts(-1_500), "-1.500");
        assert_eq!(format_ts(i64::MAX), "1000000000000.000");
        assert_eq!(format_ts(i64::MIN), "-1000000000000.000");
    }

    #[test]
    fn urls_are_validated() {
        assert!(PromClient::new("http://localhost:9090/", Duration::from_secs(1)).is_ok());
        let e = PromClient::new("localhost:9090", Duration::from_secs(1)).unwrap_err();
        assert!(e.to_string().contains("localhost:9090"), "{e}");
        assert!(PromClient::new("https://prometheus:9090", Duration::from_secs(1)).is_ok());
        assert!(PromClient::new("https://", Duration::from_secs(1)).is_err());
    }

    #[tokio::test]
    async fn https_urls_speak_tls() {
        // A plain-HTTP server behind an https:// URL: the client starts a TLS
        // handshake (it is not refused as an unsupported scheme) and reports
        // the failure with the URL.
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let server = tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let (mut s, _) = l.accept().await.unwrap();
            let mut hello = [0u8; 1];
            s.read_exact(&mut hello).await.unwrap();
            let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
            hello[0]
        });
        let c = PromClient::new(&format!("https://{addr}"), Duration::from_secs(5)).unwrap();
        let e = c.ready().await.unwrap_err();
        assert!(
            matches!(e, Error::PrometheusRequest { .. }) && e.to_string().contains("https://"),
            "{e}"
        );
        assert_eq!(server.await.unwrap(), 0x16, "a TLS handshake record");
    }

    #[test]
    fn api_errors_carry_status() {
        let e = parse_api::<Vec<String>>(
            br#"{"status":"error","errorType":"bad_data","error":"boom"}"#,
            "http://p/api",
        )
        .unwrap_err();
        assert!(e.to_string().contains("boom"), "{e}");
        let v: Vec<String> = parse_api(br#"{"status":"success","data":["a"]}"#, "u").unwrap();
        assert_eq!(v, vec!["a"]);
    }
}
