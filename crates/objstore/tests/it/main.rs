//! Integration tests: the acceptance suite against every backend (memory, filesystem,
//! filesystem with a prefix, S3 against a real s3s-fs server, plain and over TLS with a private
//! CA, Azure against Azurite, GCS against fake-gcs-server), plus failure behaviour.

// Test helpers outside `#[test]` functions may unwrap too.
#![allow(clippy::unwrap_used)]

mod azure;
mod config;
mod filesystem;
mod gcs;
mod memory;
mod s3;
mod s3_tls;

/// One `#[tokio::test]` per acceptance case; `$make` is an async expression returning
/// `(Arc<dyn Bucket>, guard)` where the guard keeps the backend alive.
macro_rules! acceptance_suite {
    ($make:expr) => {
        acceptance_suite!(@cases $make;
            get_and_ranged_reads,
            ranged_reads_at_and_beyond_the_end,
            missing_key_is_not_found,
            overwrite_and_delete,
            larger_than_one_multipart_part,
            listing_semantics,
            listing_more_than_1000_keys_with_delimiter,
            concurrent_writers,
            invalid_keys_are_rejected,
            dir_upload_and_download,
            block_layout_round_trip);
        #[test]
        fn every_acceptance_case_is_wired() {
            let wired = [
                "get_and_ranged_reads",
                "ranged_reads_at_and_beyond_the_end",
                "missing_key_is_not_found",
                "overwrite_and_delete",
                "larger_than_one_multipart_part",
                "listing_semantics",
                "listing_more_than_1000_keys_with_delimiter",
                "concurrent_writers",
                "invalid_keys_are_rejected",
                "dir_upload_and_download",
                "block_layout_round_trip",
            ];
            assert_eq!(wired, aeon_objstore::acceptance::CASES);
        }
    };
    (@cases $make:expr; $($case:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (bucket, _guard) = $make.await;
                aeon_objstore::acceptance::$case(bucket).await;
            }
        )*
    };
}
pub(crate) use acceptance_suite;
