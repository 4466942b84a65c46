use aeon_tsdb_block::writer::DEFAULT_BLOCK_DURATION;

use crate::wal::WalOptions;
use crate::{Error, Result};

/// Settings of a [`Head`](crate::Head).
#[derive(Debug, Clone)]
pub struct HeadOptions {
    /// Block range in ms (Prometheus's `--storage.tsdb.min-block-duration`,
    /// 2h): chunks never cross a multiple of it, in-order samples older than
    /// the head's max time minus half of it are out of bounds, and the head
    /// is compacted once it spans 1.5 times it.
    pub block_range: i64,
    /// Out-of-order window in ms (Thanos `--tsdb.out-of-order.time-window`);
    /// 0 rejects every out-of-order sample.
    pub ooo_window: i64,
    /// Maximum number of series held; 0 means unlimited.
    pub max_series: usize,
    pub wal: WalOptions,
}

impl Default for HeadOptions {
    fn default() -> Self {
        Self {
            block_range: DEFAULT_BLOCK_DURATION,
            ooo_window: 0,
            max_series: 0,
            wal: WalOptions::default(),
        }
    }
}

impl HeadOptions {
    pub(crate) fn validate(&self) -> Result<()> {
        if self.block_range <= 0 {
            return Err(Error::Options(format!(
                "block range must be positive, got {}ms",
                self.block_range
            )));
        }
        if self.ooo_window < 0 {
            return Err(Error::Options(format!(
                "out-of-order window must not be negative, got {}ms",
                self.ooo_window
            )));
        }
        Ok(())
    }
}
