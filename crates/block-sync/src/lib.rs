//! Bucket block discovery (layer L2), shared by the store-gateway and the
//! compactor: which blocks a bucket holds and which of them a service acts
//! on, with Thanos's rules (`pkg/block/fetcher.go`).
//!
//! - [`Fetcher`]: lists the bucket and reads every block's meta.json (cached
//!   across fetches: blocks are immutable) and marks, returning a typed
//!   [`BucketState`]: metas, partial uploads, corrupt and unreadable blocks
//!   (with the reason), deletion / no-compact / no-downsample marks. One bad
//!   block never fails a fetch; only a failed bucket listing does.
//! - [`filter`]: composable [`MetaFilter`]s — [`TimePartition`],
//!   [`LabelSelector`] (relabelling with `__block_id`), [`ConsistencyDelay`],
//!   [`DeletionDelay`] and [`Deduplicate`] — applied with [`apply`], each
//!   recording why it skipped a block as a [`SkipReason`] (Thanos's
//!   `thanos_blocks_meta_synced{state}` values).
//!
//! The store-gateway and the compactor each had their own copy of this
//! until they were merged here; where they disagreed, Thanos's behaviour won:
//! - time partition: both ends inclusive (`max_time >= --min-time`); the
//!   compactor skipped a block ending exactly at `--min-time`.
//! - consistency delay: age from `upload_time` when the thanos section has
//!   one, else from the ULID time (the store-gateway used the later of the
//!   two, the compactor only the ULID); compactor and repair outputs exempt.
//! - one unreadable block: a meta.json that does not parse marks the block
//!   corrupt and a block that cannot be read marks it failed; neither fails
//!   the fetch (the compactor failed on a read error). Callers decide what
//!   an incomplete view means (the compactor does not act on one, the
//!   store-gateway adds blocks but drops none, as Thanos).
//! - marks: a mark that does not parse is ignored with a warning (the
//!   compactor failed), a bucket error or unknown version reading one is a
//!   failed block (the store-gateway ignored it).
//! - duplicates: grouped by resolution *and* external labels (replica
//!   labels left out where the caller deduplicates them), as Thanos's
//!   `DefaultDeduplicateFilter`; both copies grouped by resolution only.

#![warn(unreachable_pub)]

mod error;
mod fetch;
pub mod filter;

pub use error::{Error, Result};
pub use fetch::{BucketState, FetchObserver, Fetcher, META_FETCH_CONCURRENCY, MetaCache};
pub use filter::{
    BLOCK_ID_LABEL, ConsistencyDelay, Deduplicate, DeletionDelay, FilterContext, Filtered,
    LabelSelector, MetaFilter, SkipReason, TimePartition, apply,
};
