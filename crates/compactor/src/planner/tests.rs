use std::collections::BTreeMap;

use aeon_tsdb_block::ThanosMeta;
use aeon_tsdb_block::meta::ThanosDownsample;
use proptest::prelude::*;

use super::*;

const H: i64 = HOUR_MS;

fn id(n: u64) -> Ulid {
    Ulid::from_parts(1_700_000_000_000 + n, u128::from(n))
}

fn meta(n: u64, min: i64, max: i64) -> BlockMeta {
    let mut m = BlockMeta::new(id(n), min, max);
    m.thanos = Some(ThanosMeta {
        labels: BTreeMap::from([("cluster".into(), "eu1".into())]),
        source: "sidecar".into(),
        ..Default::default()
    });
    m
}

fn with_res(mut m: BlockMeta, res: i64) -> BlockMeta {
    if let Some(t) = m.thanos.as_mut() {
        t.downsample = ThanosDownsample { resolution: res };
    }
    m
}

fn ids(plan: &GroupPlan) -> Vec<Ulid> {
    match plan {
        GroupPlan::Nothing => vec![],
        GroupPlan::Compact(v) | GroupPlan::Quarantine(v) => v.iter().map(|m| m.ulid).collect(),
    }
}

fn plan(blocks: &[BlockMeta]) -> GroupPlan {
    plan_group(blocks, &HashSet::new(), false, &DEFAULT_RANGES)
}

#[test]
fn empty_and_single_blocks_plan_nothing() {
    assert_eq!(plan(&[]), GroupPlan::Nothing);
    assert_eq!(plan(&[meta(1, 0, 2 * H)]), GroupPlan::Nothing);
    assert_eq!(
        plan(&[meta(1, 0, 2 * H), meta(2, 2 * H, 4 * H)]),
        GroupPlan::Nothing
    );
}

#[test]
fn four_2h_blocks_wait_for_the_window_to_close() {
    let b: Vec<BlockMeta> = (0..4)
        .map(|i| meta(i, i as i64 * 2 * H, (i as i64 + 1) * 2 * H))
        .collect();
    // The 8h window [0, 8h) holds all four, but the last one is the most recent
    // block and is left out, so the three left neither fill the window nor end
    // before the most recent block.
    assert_eq!(plan(&b), GroupPlan::Nothing);
    let mut b5 = b.clone();
    b5.push(meta(4, 8 * H, 10 * H));
    let p = plan(&b5);
    assert!(matches!(p, GroupPlan::Compact(_)));
    assert_eq!(ids(&p), (0..4).map(id).collect::<Vec<_>>());
}

#[test]
fn windows_before_the_most_recent_block_are_compacted_even_with_gaps() {
    let b = vec![
        meta(1, 0, 2 * H),
        meta(2, 2 * H, 4 * H),
        meta(3, 10 * H, 12 * H),
        meta(4, 12 * H, 14 * H),
    ];
    assert_eq!(ids(&plan(&b)), vec![id(1), id(2)]);
}

#[test]
fn bigger_ranges_follow_once_smaller_windows_are_done() {
    // Six 8h blocks fill the 2d window [0, 48h); a newer 2h block follows.
    let mut b: Vec<BlockMeta> = (0..6)
        .map(|i| meta(i, i as i64 * 8 * H, (i as i64 + 1) * 8 * H))
        .collect();
    b.push(meta(9, 48 * H, 50 * H));
    assert_eq!(ids(&plan(&b)), (0..6).map(id).collect::<Vec<_>>());
    // A 2d block followed by 2h blocks in the next 8h window: compact those
    // once a newer block starts after them.
    let mut b = vec![
        meta(1, 0, 48 * H),
        meta(2, 48 * H, 50 * H),
        meta(3, 50 * H, 52 * H),
        meta(4, 58 * H, 60 * H),
    ];
    assert_eq!(plan(&b), GroupPlan::Nothing, "window still open");
    b.push(meta(5, 64 * H, 66 * H));
    assert_eq!(ids(&plan(&b)), vec![id(2), id(3)]);
    // Fourteen-day blocks are never merged further.
    let d14 = 336 * H;
    let b = vec![
        meta(1, 0, d14),
        meta(2, d14, 2 * d14),
        meta(3, 2 * d14, 3 * d14),
    ];
    assert_eq!(plan(&b), GroupPlan::Nothing);
}

#[test]
fn windows_are_aligned_to_the_epoch() {
    // Blocks [6h,8h) and [8h,10h) straddle the 8h boundary: never together.
    let b = vec![
        meta(1, 6 * H, 8 * H),
        meta(2, 8 * H, 10 * H),
        meta(3, 20 * H, 22 * H),
    ];
    assert_eq!(plan(&b), GroupPlan::Nothing);
    let m = [meta(1, -2 * H, 0), meta(2, 0, 2 * H)];
    let refs: Vec<&BlockMeta> = m.iter().collect();
    let parts = split_by_range(&refs, 8 * H);
    assert_eq!(parts.len(), 2, "negative times align to [-8h, 0)");
    let straddling = [meta(1, 7 * H, 9 * H)];
    let refs: Vec<&BlockMeta> = straddling.iter().collect();
    assert!(split_by_range(&refs, 8 * H).is_empty());
}

#[test]
fn no_compact_marks_split_a_window_without_gaps() {
    let mut b: Vec<BlockMeta> = (0..4)
        .map(|i| meta(i, i as i64 * 2 * H, (i as i64 + 1) * 2 * H))
        .collect();
    b.push(meta(9, 8 * H, 10 * H));
    let excluded: HashSet<Ulid> = [id(1)].into();
    let p = plan_group(&b, &excluded, false, &DEFAULT_RANGES);
    assert_eq!(ids(&p), vec![id(2), id(3)]);
    let excluded: HashSet<Ulid> = [id(0), id(2)].into();
    assert_eq!(
        plan_group(&b, &excluded, false, &DEFAULT_RANGES),
        GroupPlan::Nothing
    );
}

#[test]
fn failed_compactions_block_their_window() {
    let mut b: Vec<BlockMeta> = (0..4)
        .map(|i| meta(i, i as i64 * 2 * H, (i as i64 + 1) * 2 * H))
        .collect();
    b.push(meta(9, 8 * H, 10 * H));
    b[1].compaction.failed = true;
    assert_eq!(plan(&b), GroupPlan::Nothing);
}

#[test]
fn overlaps_are_quarantined_or_merged_vertically() {
    let b = vec![
        meta(1, 0, 2 * H),
        meta(2, H, 3 * H),
        meta(3, 2 * H, 4 * H),
        meta(4, 10 * H, 12 * H),
        meta(5, 11 * H, 12 * H),
    ];
    let p = plan(&b);
    assert!(matches!(p, GroupPlan::Quarantine(_)));
    assert_eq!(
        ids(&p),
        vec![id(1), id(2), id(3)],
        "first overlapping run only"
    );
    let p = plan_group(&b, &HashSet::new(), true, &DEFAULT_RANGES);
    assert!(matches!(p, GroupPlan::Compact(_)));
    assert_eq!(ids(&p), vec![id(1), id(2), id(3)]);
    // Once quarantined, the next overlap is found, then normal planning resumes.
    let ex: HashSet<Ulid> = [id(1), id(2), id(3)].into();
    assert_eq!(
        ids(&plan_group(&b, &ex, false, &DEFAULT_RANGES)),
        vec![id(4), id(5)]
    );
    let ex: HashSet<Ulid> = [id(1), id(2), id(3), id(4), id(5)].into();
    assert_eq!(
        plan_group(&b, &ex, false, &DEFAULT_RANGES),
        GroupPlan::Nothing
    );
}

#[test]
fn groups_by_labels_and_resolution_ignoring_replica_labels() {
    let mut a = meta(1, 0, 2 * H);
    let mut b = meta(2, 0, 2 * H);
    for (m, r) in [(&mut a, "0"), (&mut b, "1")] {
        m.thanos
            .as_mut()
            .unwrap()
            .labels
            .insert("replica".into(), r.into());
    }
    let c = with_res(meta(3, 0, 48 * H), RES_5M);
    let metas = vec![a, b, c];
    let g = group_blocks(&metas, &[]);
    assert_eq!(g.len(), 3);
    let g = group_blocks(&metas, &["replica".to_string()]);
    assert_eq!(g.len(), 2);
    let raw = g.iter().find(|g| g.resolution == 0).unwrap();
    assert_eq!(raw.blocks.len(), 2);
    assert_eq!(raw.labels, Labels::from_pairs(&[("cluster", "eu1")]));
    assert_eq!(
        raw.key,
        format!(
            "0@{}",
            Labels::from_pairs(&[("cluster", "eu1")]).stable_hash()
        )
    );
    assert!(g.iter().any(|g| g.key.starts_with("300000@")));
}

#[test]
fn downsampling_plan_follows_ranges_and_existing_outputs() {
    let raw2d = meta(1, 0, 48 * H);
    let raw1d = meta(2, 48 * H, 72 * H);
    let raw2d_done = meta(3, 96 * H, 144 * H);
    let mut ds_done = with_res(meta(4, 96 * H, 144 * H), RES_5M);
    ds_done.compaction.sources = vec![id(3)];
    let mut m14 = with_res(meta(5, 0, 336 * H), RES_5M);
    m14.compaction.sources = vec![id(50), id(51)];
    let m9 = with_res(meta(6, 0, 216 * H), RES_5M);
    let h1 = with_res(meta(7, 0, 336 * H), RES_1H);
    let metas = vec![raw2d, raw1d, raw2d_done, ds_done, m14, m9, h1];
    let jobs = plan_downsample(&metas, &HashSet::new());
    let got: Vec<(Ulid, i64)> = jobs
        .iter()
        .map(|j| (j.block.ulid, j.target_resolution))
        .collect();
    assert_eq!(got, vec![(id(1), RES_5M), (id(5), RES_1H)]);
    let skip: HashSet<Ulid> = [id(1)].into();
    assert_eq!(plan_downsample(&metas, &skip).len(), 1);
}

#[test]
fn retention_applies_per_resolution() {
    let now = 1_800_000_000_000;
    let day = 24 * H;
    let old_raw = meta(1, now - 3 * day, now - 25 * H);
    let young_raw = meta(2, now - 2 * day, now - 23 * H);
    let old_5m = with_res(meta(3, now - 10 * day, now - 9 * day), RES_5M);
    let old_1h = with_res(meta(4, now - 100 * day, now - 99 * day), RES_1H);
    let metas = vec![old_raw, young_raw, old_5m, old_1h];
    let d = |days: u64| Duration::from_secs(days * 86400);
    assert_eq!(plan_retention(&metas, [d(1), d(0), d(0)], now), vec![id(1)]);
    assert_eq!(
        plan_retention(&metas, [d(0), d(5), d(365)], now),
        vec![id(3)]
    );
    assert!(plan_retention(&metas, [d(0); 3], now).is_empty());
    // Exactly at the boundary the block is kept (`now > maxTime + retention`).
    let edge = meta(5, now - 2 * day, now - day);
    assert!(plan_retention(&[edge], [d(1), d(0), d(0)], now).is_empty());
}

#[test]
fn delete_delay_and_aborted_partials() {
    let now = 1_800_000_000_000;
    assert!(past_delete_delay(1_800_000_000, Duration::ZERO, now));
    assert!(!past_delete_delay(
        1_800_000_000,
        Duration::from_secs(1),
        now
    ));
    assert!(past_delete_delay(
        1_800_000_000 - 3600,
        Duration::from_secs(3600),
        now
    ));
    let young = Ulid::from_parts((now - 47 * H) as u64, 1);
    let old = Ulid::from_parts((now - 49 * H) as u64, 1);
    assert!(!is_aborted_partial(young, Duration::from_secs(1800), now));
    assert!(is_aborted_partial(old, Duration::from_secs(1800), now));
    assert!(!is_aborted_partial(
        old,
        Duration::from_secs(50 * 3600),
        now
    ));
}

proptest! {
    #[test]
    fn planned_compactions_are_contiguous_aligned_and_respect_marks(
        slots in proptest::collection::btree_set(0i64..40, 0..25),
        excl in proptest::collection::vec(any::<bool>(), 40),
    ) {
        let blocks: Vec<BlockMeta> = slots.iter().map(|&s| meta(s as u64, s * 2 * H, (s + 1) * 2 * H)).collect();
        let excluded: HashSet<Ulid> = blocks.iter().enumerate().filter(|(i, _)| excl[*i]).map(|(_, b)| b.ulid).collect();
        let p = plan_group(&blocks, &excluded, false, &DEFAULT_RANGES);
        prop_assert!(!matches!(p, GroupPlan::Quarantine(_)));
        if let GroupPlan::Compact(v) = p {
            prop_assert!(v.len() >= 2);
            prop_assert!(v.iter().all(|b| !excluded.contains(&b.ulid)));
            prop_assert!(v.last().unwrap().ulid != blocks.last().unwrap().ulid);
            let mint = v[0].min_time;
            let maxt = v.last().unwrap().max_time;
            prop_assert!(DEFAULT_RANGES[1..].iter().any(|r| mint.div_euclid(*r) == (maxt - 1).div_euclid(*r)));
            let pos: Vec<usize> = v.iter().map(|b| blocks.iter().position(|x| x.ulid == b.ulid).unwrap()).collect();
            prop_assert!(pos.windows(2).all(|w| w[1] == w[0] + 1));
        }
    }
}
