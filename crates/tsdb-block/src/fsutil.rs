//! Small filesystem helpers for atomic writes.

use std::path::Path;

use crate::{Error, Result};

/// fsyncs a directory so that renames inside it are durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    let f = std::fs::File::open(dir).map_err(|e| Error::write(dir, e))?;
    f.sync_all().map_err(|e| Error::write(dir, e))
}
