//! Which blocks a request reads: time overlap, external labels, block
//! matchers on `__block_id`, and Thanos's resolution choice per stream.

use std::collections::BTreeMap;
use std::sync::Arc;

use aeon_model::{Labels, Matcher};

use crate::block::Block;

/// Blocks to query: overlapping `[mint, maxt]`, external labels
/// compatible with `ms`, passing `block_ms`, resolution chosen per
/// external-label group (coarsest allowed first, gaps filled finer).
pub(super) fn select(
    blocks: Vec<Arc<Block>>,
    mint: i64,
    maxt: i64,
    max_res: i64,
    ms: &[Matcher],
    block_ms: &[Matcher],
) -> Vec<Arc<Block>> {
    let mut groups: BTreeMap<Labels, Vec<Arc<Block>>> = BTreeMap::new();
    for b in blocks {
        if b.meta.max_time < mint || b.meta.min_time > maxt {
            continue;
        }
        if !block_ms.is_empty() {
            let l = Labels::from_pairs(&[(aeon_block_sync::BLOCK_ID_LABEL, b.id.to_string())]);
            if !block_ms.iter().all(|m| m.matches_labels(&l)) {
                continue;
            }
        }
        if b.index_matchers(ms).is_none() {
            continue;
        }
        groups.entry(b.ext.clone()).or_default().push(b);
    }
    let mut out = Vec::new();
    for (_, mut bs) in groups {
        bs.sort_by_key(|b| (b.meta.min_time, b.id));
        let mut resolutions: Vec<i64> = bs
            .iter()
            .map(|b| b.resolution)
            .filter(|&r| r <= max_res.max(0))
            .collect();
        resolutions.sort_unstable();
        resolutions.dedup();
        get_for(&bs, &resolutions, mint, maxt, &mut out);
    }
    out
}

/// Thanos's `getFor`: blocks of the coarsest resolution in `res` covering
/// `[mint, maxt]`, with gaps filled recursively from finer resolutions.
fn get_for(bs: &[Arc<Block>], res: &[i64], mint: i64, maxt: i64, out: &mut Vec<Arc<Block>>) {
    let Some((&r, finer)) = res.split_last() else {
        return;
    };
    let here: Vec<&Arc<Block>> = bs
        .iter()
        // A block holds samples in [min_time, max_time): one ending at `mint`
        // has nothing for it (and would overlap the block before the gap).
        .filter(|b| b.resolution == r && b.meta.max_time > mint && b.meta.min_time <= maxt)
        .collect();
    if here.is_empty() {
        get_for(bs, finer, mint, maxt, out);
        return;
    }
    if here[0].meta.min_time > mint {
        get_for(bs, finer, mint, here[0].meta.min_time - 1, out);
    }
    for (i, b) in here.iter().enumerate() {
        out.push((*b).clone());
        if let Some(next) = here.get(i + 1)
            && b.meta.max_time < next.meta.min_time
        {
            get_for(bs, finer, b.meta.max_time, next.meta.min_time - 1, out);
        }
    }
    if let Some(last) = here.last()
        && last.meta.max_time < maxt
    {
        get_for(bs, finer, last.meta.max_time, maxt, out);
    }
}
