//! The Helm chart, checked with the real helm 4 and kubernetes-validate:
//! `helm lint --strict`, `helm template`, and schema validation of every
//! rendered object against Kubernetes 1.30 and 1.35, for the default values
//! and for a sharded, S3-backed production-like values file, Kubernetes
//! discovery and gRPC over mutual TLS.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        text,
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

const VALUE_FILES: [Option<&str>; 4] = [
    None,
    Some("ci/sharded-s3-values.yaml"),
    Some("ci/k8s-discovery-values.yaml"),
    Some("ci/grpc-tls-values.yaml"),
];

fn helm(args: &[&str], values: Option<&str>) -> String {
    let chart = root().join("helm/aeon");
    let mut cmd = Command::new(aeon_testkit::peers::helm());
    cmd.current_dir(&chart).args(args);
    if let Some(v) = values {
        cmd.args(["-f", v]);
    }
    run(&mut cmd)
}

#[test]
fn chart_lints_strictly() {
    for values in VALUE_FILES {
        let out = helm(&["lint", "--strict", "."], values);
        assert!(out.contains("0 chart(s) failed"), "{out}");
    }
}

#[test]
fn rendered_objects_validate_against_kubernetes_schemas() {
    let validate = aeon_testkit::peers::kubernetes_validate();
    let dir = tempfile::tempdir().unwrap();
    for (i, values) in VALUE_FILES.into_iter().enumerate() {
        let rendered = helm(
            &["template", "rel", ".", "--namespace", "monitoring"],
            values,
        );
        let kinds = rendered.lines().filter(|l| l.starts_with("kind: ")).count();
        assert!(kinds >= 9, "too few objects rendered ({kinds})");
        let file = dir.path().join(format!("rendered-{i}.yaml"));
        std::fs::write(&file, &rendered).unwrap();
        for k8s in ["1.30.0", "1.35.0"] {
            run(Command::new(&validate)
                .args(["--strict", "--quiet", "-k", k8s])
                .arg(&file));
        }
    }
}

#[test]
fn sharded_values_render_one_statefulset_per_shard_with_hashmod() {
    let out = helm(&["template", "rel", "."], Some("ci/sharded-s3-values.yaml"));
    let sts = out.matches("kind: StatefulSet").count();
    assert_eq!(sts, 3 + 2, "3 store-gateway shards + 2 compactor shards");
    for shard in 0..3 {
        assert!(
            out.contains(&format!("name: rel-aeon-store-gateway-{shard}")),
            "shard {shard} missing"
        );
        assert!(
            out.contains(&format!("regex: \"{shard}\"")),
            "keep rule for shard {shard} missing"
        );
    }
    assert!(out.contains("source_labels: [__block_id]"));
    // The querier reaches every shard through its SRV record.
    for shard in 0..3 {
        assert!(out.contains(&format!(
            "--endpoint=dnssrv+_grpc._tcp.rel-aeon-store-gateway-{shard}.default.svc.cluster.local"
        )));
    }
    assert_eq!(out.matches("kind: HorizontalPodAutoscaler").count(), 2);
    // The query frontend in front of the querier, with the memcached cache;
    // Grafana points at the frontend.
    assert!(out.contains("name: rel-aeon-query-frontend"));
    assert!(out.contains(
        "--query-frontend.downstream-url=http://rel-aeon-querier.default.svc.cluster.local:10902"
    ));
    assert!(out.contains(
        "\"--query-range.response-cache-config=type: MEMCACHED\\nconfig:\\n  addresses: [dns+memcached.cache.svc.cluster.local:11211]\\n  timeout: 500ms\""
    ));
    assert!(out.contains("--query-range.max-query-length=2160h"));
    assert!(out.contains("--query-frontend.forward-header=X-Grafana-User"));
    assert!(out.contains("url: http://rel-aeon-query-frontend.default.svc.cluster.local:10902"));
    assert!(!out.contains("url: http://rel-aeon-querier."));
    assert!(out.contains("image: registry.example.com/observability/aeon-query-frontend:0.1.0"));
}

#[test]
fn default_values_use_no_sharding_and_point_grafana_at_the_querier() {
    let out = helm(&["template", "rel", "."], None);
    assert!(!out.contains("selector.relabel-config"));
    assert!(out.contains("url: http://rel-aeon-querier.default.svc.cluster.local:10902"));
    assert!(out.contains("--query.replica-label=replica"));
    // No query frontend unless enabled.
    assert!(!out.contains("query-frontend"));
}

#[test]
fn grpc_tls_values_serve_and_dial_with_the_secrets_certificates() {
    let out = helm(&["template", "rel", "."], Some("ci/grpc-tls-values.yaml"));
    // Store-gateway and querier serve mutual TLS…
    assert_eq!(
        out.matches("- --grpc-server-tls-cert=/etc/aeon/grpc-tls/tls.crt")
            .count(),
        2,
        "{out}"
    );
    assert_eq!(
        out.matches("- --grpc-server-tls-client-ca=/etc/aeon/grpc-tls/ca.crt")
            .count(),
        2
    );
    // …the querier dials with its certificate…
    for arg in [
        "- --grpc-client-tls-secure",
        "- --grpc-client-tls-ca=/etc/aeon/grpc-tls/ca.crt",
        "- --grpc-client-tls-cert=/etc/aeon/grpc-tls/tls.crt",
        "- --grpc-client-tls-key=/etc/aeon/grpc-tls/tls.key",
        "- --grpc-client-server-name=aeon-grpc.monitoring.svc",
    ] {
        assert_eq!(out.matches(arg).count(), 1, "{arg}");
    }
    // …from the Secret, mounted where the flags point.
    assert_eq!(out.matches("secretName: aeon-grpc-tls").count(), 2);
    assert_eq!(out.matches("mountPath: /etc/aeon/grpc-tls").count(), 2);
    // Off by default; on without a Secret is refused with the reason.
    assert!(!helm(&["template", "rel", "."], None).contains("grpc-tls"));
    let mut cmd = Command::new(aeon_testkit::peers::helm());
    cmd.current_dir(root().join("helm/aeon")).args([
        "template",
        "rel",
        ".",
        "--set",
        "grpcTls.enabled=true",
    ]);
    let o = cmd.output().unwrap();
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("grpcTls.secretName is required"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
