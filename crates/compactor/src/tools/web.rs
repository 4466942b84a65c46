//! `aeon tools bucket web`: a block timeline page (one row per stream, one
//! bar per block) and Thanos's `/api/v1/blocks` JSON.

use std::fmt::Write as _;
use std::sync::Arc;

use aeon_objstore::Bucket;
use aeon_tsdb_block::BlockMeta;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use crate::blocks;
use crate::planner;
use aeon_block_sync::BucketState;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn time_str(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| ms.to_string())
}

/// The HTML timeline of every block in `st`.
pub fn render_timeline(st: &BucketState) -> String {
    const WIDTH: f64 = 1200.0;
    const ROW: usize = 28;
    let groups = planner::group_blocks(&st.metas, &[]);
    let min = st.metas.iter().map(|m| m.min_time).min().unwrap_or(0);
    let max = st
        .metas
        .iter()
        .map(|m| m.max_time)
        .max()
        .unwrap_or(1)
        .max(min + 1);
    let x = |t: i64| (t - min) as f64 / (max - min) as f64 * WIDTH;
    let mut rows = String::new();
    let mut y = 0usize;
    for g in &groups {
        let res = aeon_tsdb_block::dump::go_duration_ms(g.resolution);
        let _ = write!(
            rows,
            "<text x=\"0\" y=\"{}\" class=\"g\">{} · resolution {res} · {} blocks</text>",
            y + 12,
            esc(&g.labels.to_string()),
            g.blocks.len()
        );
        y += 16;
        // Stack overlapping blocks on sub-rows so overlaps are visible.
        let mut lanes: Vec<i64> = Vec::new();
        for b in &g.blocks {
            let lane = lanes
                .iter()
                .position(|end| *end <= b.min_time)
                .unwrap_or(lanes.len());
            if lane == lanes.len() {
                lanes.push(b.max_time);
            } else {
                lanes[lane] = b.max_time;
            }
            let class = if st.deletion_marks.contains_key(&b.ulid) {
                "del"
            } else if st.no_compact_marks.contains_key(&b.ulid) {
                "nc"
            } else {
                "ok"
            };
            let w = (x(b.max_time) - x(b.min_time)).max(1.0);
            let _ = write!(
                rows,
                "<rect class=\"{class} l{lvl}\" x=\"{:.1}\" y=\"{}\" width=\"{w:.1}\" height=\"{}\"><title>{} {} → {} level {lvl} series {} samples {} source {}</title></rect>",
                x(b.min_time),
                y + lane * ROW,
                ROW - 4,
                b.ulid,
                time_str(b.min_time),
                time_str(b.max_time),
                b.stats.num_series,
                b.stats.num_samples,
                esc(b.thanos.as_ref().map_or("", |t| t.source.as_str())),
                lvl = b.compaction.level.clamp(1, 5),
            );
        }
        y += lanes.len().max(1) * ROW + 8;
    }
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Aeon bucket</title><style>\
         body{{font-family:sans-serif}} .g{{font-size:12px}} rect{{stroke:#333;stroke-width:.5}}\
         .l1{{fill:#9ecae1}} .l2{{fill:#6baed6}} .l3{{fill:#3182bd}} .l4{{fill:#08519c}} .l5{{fill:#08306b}}\
         .del{{opacity:.3}} .nc{{stroke:#d00;stroke-width:2}}</style></head><body>\
         <h1>Blocks</h1><p>{} blocks, {} partial uploads, {} marked for deletion, {} no-compact; {} → {}</p>\
         <svg width=\"{WIDTH}\" height=\"{}\">{rows}</svg></body></html>",
        st.metas.len(),
        st.partial.len(),
        st.deletion_marks.len(),
        st.no_compact_marks.len(),
        time_str(min),
        time_str(max),
        y + 10,
    )
}

/// Thanos's `/api/v1/blocks` body.
pub fn blocks_json(st: &BucketState, now_ms: i64) -> serde_json::Value {
    let blocks: Vec<&BlockMeta> = st.metas.iter().map(|m| &**m).collect();
    serde_json::json!({
        "status": "success",
        "data": {
            "blocks": blocks,
            "label": "",
            "refreshedAt": chrono::DateTime::from_timestamp_millis(now_ms).map(|d| d.to_rfc3339()),
            "err": null,
        }
    })
}

async fn page(State(b): State<Arc<dyn Bucket>>) -> impl IntoResponse {
    match blocks::fetch_once(b.as_ref()).await {
        Ok(st) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            render_timeline(&st),
        ),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            e.to_string(),
        ),
    }
}

async fn api(State(b): State<Arc<dyn Bucket>>) -> impl IntoResponse {
    match blocks::fetch_once(b.as_ref()).await {
        Ok(st) => (
            StatusCode::OK,
            axum::Json(blocks_json(&st, chrono::Utc::now().timestamp_millis())),
        ),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(serde_json::json!({"status": "error", "error": e.to_string()})),
        ),
    }
}

/// The web UI routes over `bucket`.
pub fn router(bucket: Arc<dyn Bucket>) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/api/v1/blocks", get(api))
        .with_state(bucket)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use aeon_tsdb_block::ThanosMeta;
    use ulid::Ulid;

    use super::*;

    #[test]
    fn timeline_shows_streams_blocks_and_marks() {
        let mut st = BucketState::default();
        for (i, (c, from)) in [("eu1", 0), ("eu1", 3_600_000), ("us<1>", 0)]
            .iter()
            .enumerate()
        {
            let mut m = BlockMeta::new(Ulid::from_parts(i as u64 + 1, 1), *from, from + 7_200_000);
            m.thanos = Some(ThanosMeta {
                labels: BTreeMap::from([("cluster".to_string(), c.to_string())]),
                source: "sidecar".into(),
                ..Default::default()
            });
            st.metas.push(Arc::new(m));
        }
        st.deletion_marks.insert(
            st.metas[0].ulid,
            aeon_objstore::block::DeletionMark {
                id: st.metas[0].ulid,
                version: 1,
                details: None,
                deletion_time: 1,
            },
        );
        let html = render_timeline(&st);
        for m in &st.metas {
            assert!(html.contains(&m.ulid.to_string()));
        }
        assert_eq!(html.matches("<rect").count(), 3);
        assert!(html.contains("class=\"del l1\""));
        assert!(html.contains("us&lt;1&gt;"), "labels are escaped");
        // The two overlapping eu1 blocks sit on different lanes.
        let y_of = |id: Ulid| {
            let at = html.find(&format!("<title>{id}")).unwrap();
            let rect = &html[html[..at].rfind("<rect").unwrap()..at];
            rect.split("y=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .to_string()
        };
        assert_ne!(y_of(st.metas[0].ulid), y_of(st.metas[1].ulid), "{html}");
        let j = blocks_json(&st, 0);
        assert_eq!(j["data"]["blocks"].as_array().unwrap().len(), 3);
        assert_eq!(j["status"], "success");
    }
}
