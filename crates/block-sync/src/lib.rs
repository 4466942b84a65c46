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

mod error;
mod fetch;
pub mod filter;

pub use error::{Error, Result};
pub use fetch::{BucketState, FetchObserver, Fetcher, META_FETCH_CONCURRENCY, MetaCache};
pub use filter::{
    BLOCK_ID_LABEL, ConsistencyDelay, Deduplicate, DeletionDelay, FilterContext, Filtered,
    LabelSelector, MetaFilter, SkipReason, TimePartition, apply,
};
