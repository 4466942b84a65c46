//! The Metadata, Exemplars and Targets APIs over the endpoints, as Thanos's
//! querier proxies them (`pkg/{metadata,exemplars,targets}/proxy.go`): every
//! usable endpoint that advertises the API in Info (and that `storeMatch[]`
//! allows) is asked concurrently, each within `--store.response-timeout`;
//! their frames are passed on as they are (one data frame per store), a
//! failing endpoint becomes a warning (partial response WARN) or fails the
//! call (ABORT). The HTTP API then merges and deduplicates by replica labels
//! (`merge_metadata`, `dedup_exemplars`, `dedup_targets`), as Thanos's
//! unary clients do.

mod exemplars;
mod metadata;
mod targets;

use std::future::Future;
use std::sync::Arc;

pub(crate) use exemplars::{dedup_exemplars, selectors};
pub(crate) use metadata::merge_metadata;
pub(crate) use targets::{Targets, TargetsQuery, dedup_targets};

use crate::endpoints::Endpoint;
use crate::proxy::{Proxy, store_err_msg};

impl Proxy {
    /// Usable endpoints `storeMatch[]` allows.
    pub(crate) fn usable(&self) -> Vec<Arc<Endpoint>> {
        self.endpoints()
            .all()
            .into_iter()
            .filter(|e| e.usable() && self.store_allowed(e.address()))
            .collect()
    }

    /// Runs `fut` within `--store.response-timeout` (if set).
    pub(crate) async fn within_store_timeout<T>(
        &self,
        fut: impl Future<Output = aeon_storeapi::Result<T>>,
    ) -> aeon_storeapi::Result<T> {
        match self.store_timeout() {
            Some(t) => tokio::time::timeout(t, fut)
                .await
                .unwrap_or(Err(aeon_storeapi::Error::DeadlineExceeded { deadline: t })),
            None => fut.await,
        }
    }
}

/// The frames of every endpoint's answer in endpoint order; a failed
/// endpoint gives a `warning` frame (WARN) or fails the whole call.
pub(crate) fn gather<R>(
    results: Vec<(String, aeon_storeapi::Result<Vec<R>>)>,
    warn: bool,
    warning: impl Fn(String) -> R,
) -> aeon_storeapi::Result<Vec<R>> {
    let mut out = Vec::new();
    for (addr, r) in results {
        match r {
            Ok(frames) => out.extend(frames),
            Err(e) if warn => out.push(warning(store_err_msg(&addr, e))),
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}
