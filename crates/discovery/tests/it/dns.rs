//! `dns+`, `dnssrv+` and `dnssrvnoa+` against an in-test UDP DNS server.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use aeon_discovery::{DnsResolver, Provider, Spec};
use hickory_resolver::proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_resolver::proto::rr::rdata::{A, AAAA, SRV};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};

type Zone = HashMap<(String, RecordType), Vec<RData>>;

/// A UDP DNS server answering from a zone the test edits; names without records are
/// NXDOMAIN, and `fail` makes every answer SERVFAIL.
struct FakeDns {
    addr: SocketAddr,
    zone: Arc<Mutex<Zone>>,
    fail: Arc<Mutex<bool>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeDns {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeDns {
    async fn start() -> Self {
        let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = sock.local_addr().unwrap();
        let zone: Arc<Mutex<Zone>> = Arc::default();
        let fail: Arc<Mutex<bool>> = Arc::default();
        let (z, f) = (zone.clone(), fail.clone());
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                let Ok((n, peer)) = sock.recv_from(&mut buf).await else {
                    return;
                };
                let Ok(req) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                let mut resp = Message::new(req.metadata.id, MessageType::Response, OpCode::Query);
                resp.metadata.recursion_desired = req.metadata.recursion_desired;
                resp.metadata.recursion_available = true;
                resp.metadata.authoritative = true;
                for q in &req.queries {
                    resp.add_query(q.clone());
                    let name = q.name().to_ascii().to_ascii_lowercase();
                    let zone = z.lock().unwrap();
                    if *f.lock().unwrap() {
                        resp.metadata.response_code = ResponseCode::ServFail;
                    } else if let Some(rdatas) = zone.get(&(name.clone(), q.query_type())) {
                        for rd in rdatas {
                            resp.add_answer(Record::from_rdata(q.name().clone(), 5, rd.clone()));
                        }
                    } else if !zone.keys().any(|(n, _)| *n == name) {
                        resp.metadata.response_code = ResponseCode::NXDomain;
                    }
                }
                let bytes = resp.to_vec().unwrap();
                let _ = sock.send_to(&bytes, peer).await;
            }
        });
        Self {
            addr,
            zone,
            fail,
            task,
        }
    }

    fn set(&self, name: &str, rdatas: Vec<RData>) {
        let name = format!("{}.", name.trim_end_matches('.'));
        let mut z = self.zone.lock().unwrap();
        z.retain(|(n, _), _| *n != name);
        let mut by_type: HashMap<RecordType, Vec<RData>> = HashMap::new();
        for r in rdatas {
            by_type.entry(r.record_type()).or_default().push(r);
        }
        for (t, v) in by_type {
            z.insert((name.clone(), t), v);
        }
    }

    fn resolver(&self) -> DnsResolver {
        DnsResolver::with_nameservers(&[self.addr]).unwrap()
    }
}

fn srv(port: u16, target: &str) -> RData {
    RData::SRV(SRV::new(0, 10, port, Name::from_ascii(target).unwrap()))
}

fn a(ip: [u8; 4]) -> RData {
    RData::A(A(Ipv4Addr::from(ip)))
}

fn aaaa(ip: &str) -> RData {
    RData::AAAA(AAAA(ip.parse::<Ipv6Addr>().unwrap()))
}

fn spec(s: &str) -> Spec {
    Spec::parse(s).unwrap()
}

async fn stores_zone() -> FakeDns {
    let dns = FakeDns::start().await;
    dns.set(
        "_grpc._tcp.stores.test",
        vec![srv(10901, "a.stores.test."), srv(10902, "b.stores.test.")],
    );
    dns.set("a.stores.test", vec![a([127, 0, 0, 10])]);
    dns.set("b.stores.test", vec![a([127, 0, 0, 11]), aaaa("fd00::11")]);
    dns
}

#[tokio::test]
async fn dnssrv_looks_up_srv_then_a_and_aaaa_with_the_srv_port() {
    let dns = stores_zone().await;
    let r = dns.resolver();
    assert_eq!(
        r.resolve(&spec("dnssrv+_grpc._tcp.stores.test"))
            .await
            .unwrap(),
        ["127.0.0.10:10901", "127.0.0.11:10902", "[fd00::11]:10902"]
    );
    // An explicit port overrides the SRV port (Thanos).
    assert_eq!(
        r.resolve(&spec("dnssrv+_grpc._tcp.stores.test:9000"))
            .await
            .unwrap(),
        ["127.0.0.10:9000", "127.0.0.11:9000", "[fd00::11]:9000"]
    );
}

#[tokio::test]
async fn dnssrvnoa_uses_srv_targets_as_host_names() {
    let dns = stores_zone().await;
    // No A records needed: the targets are used as they are.
    dns.set("a.stores.test", vec![]);
    assert_eq!(
        dns.resolver()
            .resolve(&spec("dnssrvnoa+_grpc._tcp.stores.test"))
            .await
            .unwrap(),
        ["a.stores.test:10901", "b.stores.test:10902"]
    );
}

#[tokio::test]
async fn dns_plus_returns_every_address_and_missing_names_resolve_to_nothing() {
    let dns = stores_zone().await;
    let r = dns.resolver();
    assert_eq!(
        r.resolve(&spec("dns+b.stores.test:19090")).await.unwrap(),
        ["127.0.0.11:19090", "[fd00::11]:19090"]
    );
    assert_eq!(
        r.resolve(&spec("dns+127.0.0.7:1")).await.unwrap(),
        ["127.0.0.7:1"]
    );
    assert!(
        r.resolve(&spec("dns+nope.stores.test:1"))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        r.resolve(&spec("dnssrv+_grpc._tcp.nope.test"))
            .await
            .unwrap()
            .is_empty()
    );
    // A SRV target without address records contributes nothing.
    dns.set("a.stores.test", vec![]);
    assert_eq!(
        r.resolve(&spec("dnssrv+_grpc._tcp.stores.test"))
            .await
            .unwrap(),
        ["127.0.0.11:10902", "[fd00::11]:10902"]
    );
}

#[tokio::test]
async fn provider_follows_changes_and_keeps_previous_addresses_on_failure() {
    let dns = stores_zone().await;
    let mut registry = prometheus_client::registry::Registry::default();
    let metrics = aeon_discovery::DnsMetrics::register(&mut registry, "thanos_query_store_apis_");
    let p = Provider::new(dns.resolver()).with_metrics(metrics);
    let specs = [spec("dnssrv+_grpc._tcp.stores.test"), spec("static:1")];
    let r = p.resolve(&specs).await;
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    assert_eq!(r.addresses[&specs[0]].len(), 3);
    assert_eq!(r.addresses[&specs[1]], ["static:1"]);

    // A pod goes away: the next round sees it (no stale cache).
    dns.set("_grpc._tcp.stores.test", vec![srv(10901, "a.stores.test.")]);
    let r = p.resolve(&specs).await;
    assert_eq!(r.addresses[&specs[0]], ["127.0.0.10:10901"]);

    // The DNS server fails: previous addresses kept, one warning naming the spec.
    *dns.fail.lock().unwrap() = true;
    let r = p.resolve(&specs).await;
    assert_eq!(r.addresses[&specs[0]], ["127.0.0.10:10901"]);
    assert_eq!(r.addresses[&specs[1]], ["static:1"]);
    assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
    assert!(
        r.warnings[0].contains("dnssrv+_grpc._tcp.stores.test"),
        "{}",
        r.warnings[0]
    );
    // A spec never resolved before has nothing to keep.
    let fresh = spec("dns+a.stores.test:1");
    let r = p.resolve(std::slice::from_ref(&fresh)).await;
    assert!(r.addresses[&fresh].is_empty());
    assert_eq!(r.warnings.len(), 1);

    // Recovered.
    *dns.fail.lock().unwrap() = false;
    let r = p.resolve(&specs).await;
    assert!(r.warnings.is_empty());
    assert_eq!(r.addresses[&specs[0]], ["127.0.0.10:10901"]);

    // Thanos's counters: only DNS specs are looked up (5 lookups, 2 failed);
    // the last round's results per spec.
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    for want in [
        "thanos_query_store_apis_dns_lookups_total 5\n",
        "thanos_query_store_apis_dns_failures_total 2\n",
        "thanos_query_store_apis_dns_provider_results{addr=\"dnssrv+_grpc._tcp.stores.test\"} 1\n",
    ] {
        assert!(text.contains(want), "missing {want}:\n{text}");
    }
}

#[tokio::test]
async fn system_resolver_reads_resolv_conf_and_hosts() {
    let r = DnsResolver::system().expect("/etc/resolv.conf must be readable");
    assert_eq!(
        r.resolve(&spec("dns+10.1.2.3:5")).await.unwrap(),
        ["10.1.2.3:5"]
    );
    let local = r.resolve(&spec("dns+localhost:10901")).await.unwrap();
    assert!(
        local
            .iter()
            .any(|a| a == "127.0.0.1:10901" || a == "[::1]:10901"),
        "{local:?}"
    );
}

#[tokio::test]
async fn getaddrinfo_fallback_resolves_dns_plus_and_rejects_srv_clearly() {
    let r = DnsResolver::getaddrinfo();
    let local = r.resolve(&spec("dns+localhost:7")).await.unwrap();
    assert!(
        local.iter().any(|a| a == "127.0.0.1:7" || a == "[::1]:7"),
        "{local:?}"
    );
    let e = r
        .resolve(&spec("dnssrv+_grpc._tcp.x"))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("resolv.conf"), "{e}");
}
