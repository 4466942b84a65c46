use std::time::Duration;

use aeon_compactor::{Compactor, IterationReport, Metrics};
use aeon_objstore::block::{self, DeletionMark};
use bytes::Bytes;

use crate::util::*;

const DAY: i64 = 24 * H;

#[tokio::test]
async fn retention_marks_whole_blocks_past_their_resolution_retention() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    let raw = promtool_blocks(
        &openmetrics(&["up{job=\"a\"}"], T0_S, T0_S + 6 * 3600, 15, 1),
        work,
        "raw",
    );
    let ds = promtool_blocks(
        &openmetrics(&["up{job=\"a\"}"], T0_S, T0_S + 2 * 3600, 300, 1),
        work,
        "ds",
    );
    let raw_m = set_thanos(&raw, &[("cluster", "eu1")]);
    // Pretend the second set is a 5m-resolution block.
    let ds_m = set_thanos(&ds, &[("cluster", "eu1")]);
    for d in &ds {
        let mut m = aeon_tsdb_block::BlockMeta::read_from_dir(d).unwrap();
        m.thanos.as_mut().unwrap().downsample.resolution = 300_000;
        m.write_to_dir(d).unwrap();
    }
    let bucket = fs_bucket(&work.join("bucket"));
    upload(bucket.as_ref(), &raw).await;
    upload(bucket.as_ref(), &ds).await;
    // A block with a corrupt meta.json must not stop retention.
    bucket
        .upload(
            "01HQ3Z7M0000000000000000AB/meta.json",
            Bytes::from_static(b"{corrupt"),
        )
        .await
        .unwrap();

    let t0 = T0_S * 1000;
    let now = t0 + 4 * H + DAY;
    let mut cfg = config(&work.join("data"));
    cfg.retentions = [Duration::from_secs(86_400), Duration::ZERO, Duration::ZERO];
    let c = Compactor::new(bucket.clone(), cfg.clone(), Metrics::default());
    let mut rep = IterationReport::default();
    c.apply_retention(now, &mut rep).await.unwrap();
    // [0,2h) and [2h,4h) ended more than a day ago; [4h,6h) did not; the 5m
    // block has no 5m retention.
    let mut want = vec![raw_m[0].ulid, raw_m[1].ulid];
    want.sort();
    let mut got = rep.retention_marked.clone();
    got.sort();
    assert_eq!(got, want);
    assert!(
        block::read_mark::<DeletionMark>(bucket.as_ref(), ds_m[0].ulid)
            .await
            .unwrap()
            .is_none()
    );

    // 0d means forever.
    cfg.retentions = [Duration::ZERO; 3];
    let mut rep = IterationReport::default();
    Compactor::new(bucket.clone(), cfg.clone(), Metrics::default())
        .apply_retention(now + 1000 * DAY, &mut rep)
        .await
        .unwrap();
    assert!(rep.retention_marked.is_empty());

    // 5m retention applies to the 5m block only; a full iteration deletes
    // everything marked once the delete delay (0 here) has passed.
    cfg.retentions = [Duration::ZERO, Duration::from_secs(3600), Duration::ZERO];
    cfg.delete_delay = Duration::ZERO;
    cfg.downsampling = false;
    let rep = Compactor::new(bucket.clone(), cfg, Metrics::default())
        .run_once(now)
        .await
        .unwrap();
    assert_eq!(rep.retention_marked, vec![ds_m[0].ulid]);
    let mut deleted = rep.deleted.clone();
    deleted.sort();
    let mut want = vec![raw_m[0].ulid, raw_m[1].ulid, ds_m[0].ulid];
    want.sort();
    assert_eq!(deleted, want);
    let st = state(bucket.as_ref()).await;
    assert_eq!(
        st.metas.iter().map(|m| m.ulid).collect::<Vec<_>>(),
        vec![raw_m[2].ulid]
    );
    assert_eq!(
        st.corrupt.len(),
        1,
        "the corrupt block is reported, never deleted"
    );
}
