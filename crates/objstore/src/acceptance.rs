//! The acceptance suite every backend must pass. Each case takes a bucket (which may already
//! hold other cases' objects: every case works below its own top-level prefix) and panics with
//! a description on failure. [`CASES`] lists them; [`run_all`] runs them in order.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};

use crate::block;
use crate::bucket::{Bucket, ListMode, download_dir, upload_dir};
use crate::config::MIN_PART_SIZE;
use crate::error::Error;

/// Names of the cases, in [`run_all`] order.
pub const CASES: [&str; 11] = [
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

/// Runs every case against one bucket.
pub async fn run_all(bucket: Arc<dyn Bucket>) {
    get_and_ranged_reads(bucket.clone()).await;
    ranged_reads_at_and_beyond_the_end(bucket.clone()).await;
    missing_key_is_not_found(bucket.clone()).await;
    overwrite_and_delete(bucket.clone()).await;
    larger_than_one_multipart_part(bucket.clone()).await;
    listing_semantics(bucket.clone()).await;
    listing_more_than_1000_keys_with_delimiter(bucket.clone()).await;
    concurrent_writers(bucket.clone()).await;
    invalid_keys_are_rejected(bucket.clone()).await;
    dir_upload_and_download(bucket.clone()).await;
    block_layout_round_trip(bucket).await;
}

/// Deterministic non-repeating-looking bytes.
pub fn pattern(len: usize, seed: u64) -> Bytes {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut v = Vec::with_capacity(len);
    for _ in 0..len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.push((x >> 24) as u8);
    }
    Bytes::from(v)
}

async fn must<T>(what: &str, f: impl std::future::Future<Output = crate::Result<T>>) -> T {
    match f.await {
        Ok(v) => v,
        Err(e) => panic!("{what}: {e}"),
    }
}

/// Whole and ranged reads inside the object, attributes and exists.
pub async fn get_and_ranged_reads(b: Arc<dyn Bucket>) {
    let data = pattern(1000, 1);
    must("upload", b.upload("get/obj", data.clone())).await;
    assert_eq!(must("get", b.get("get/obj")).await, data);
    assert_eq!(
        must("range head", b.get_range("get/obj", 0, 10)).await,
        data.slice(0..10)
    );
    assert_eq!(
        must("range middle", b.get_range("get/obj", 123, 456)).await,
        data.slice(123..579)
    );
    assert_eq!(
        must("range last byte", b.get_range("get/obj", 999, 1)).await,
        data.slice(999..)
    );
    let attrs = must("attributes", b.attributes("get/obj")).await;
    assert_eq!(attrs.size, 1000);
    let age = SystemTime::now()
        .duration_since(attrs.last_modified)
        .unwrap_or(Duration::ZERO);
    assert!(
        age < Duration::from_secs(3600),
        "last_modified {:?} is not recent",
        attrs.last_modified
    );
    assert!(must("exists", b.exists("get/obj")).await);
    assert!(!must("exists missing", b.exists("get/nope")).await);
    must("upload empty", b.upload("get/empty", Bytes::new())).await;
    assert_eq!(must("get empty", b.get("get/empty")).await.len(), 0);
    assert_eq!(
        must("attributes empty", b.attributes("get/empty"))
            .await
            .size,
        0
    );
}

/// Reads reaching past the end return what exists; at the end, empty; beyond, InvalidRange.
pub async fn ranged_reads_at_and_beyond_the_end(b: Arc<dyn Bucket>) {
    let data = pattern(100, 2);
    must("upload", b.upload("edge/obj", data.clone())).await;
    assert_eq!(
        must("range past end", b.get_range("edge/obj", 95, 10)).await,
        data.slice(95..)
    );
    assert_eq!(
        must("huge len", b.get_range("edge/obj", 10, 1 << 40)).await,
        data.slice(10..)
    );
    assert_eq!(
        must("whole via range", b.get_range("edge/obj", 0, 100)).await,
        data
    );
    assert!(
        must("range at end", b.get_range("edge/obj", 100, 10))
            .await
            .is_empty()
    );
    assert!(
        must("zero length", b.get_range("edge/obj", 50, 0))
            .await
            .is_empty()
    );
    match b.get_range("edge/obj", 101, 10).await {
        Err(Error::InvalidRange {
            offset: 101,
            size: 100,
            ..
        }) => {}
        other => panic!("range beyond end: want InvalidRange, got {other:?}"),
    }
    match b.get_range("edge/obj", 1000, 0).await {
        Err(Error::InvalidRange { size: 100, .. }) => {}
        other => panic!("zero-length range beyond end: want InvalidRange, got {other:?}"),
    }
    must("upload empty", b.upload("edge/empty", Bytes::new())).await;
    assert!(
        must("range of empty object", b.get_range("edge/empty", 0, 10))
            .await
            .is_empty()
    );
    assert!(
        b.get_range("edge/empty", 1, 10)
            .await
            .is_err_and(|e| matches!(e, Error::InvalidRange { .. }))
    );
}

/// Reads of a missing key fail with a matchable NotFound naming the key; delete is idempotent.
pub async fn missing_key_is_not_found(b: Arc<dyn Bucket>) {
    for (what, r) in [
        ("get", b.get("missing/key").await.map(|_| ())),
        (
            "get_range",
            b.get_range("missing/key", 0, 10).await.map(|_| ()),
        ),
        ("attributes", b.attributes("missing/key").await.map(|_| ())),
    ] {
        match r {
            Err(e @ Error::NotFound { .. }) => {
                assert!(e.is_not_found());
                assert!(
                    e.to_string().contains("missing/key"),
                    "{what}: message should name the key: {e}"
                );
            }
            other => panic!("{what}: want NotFound, got {other:?}"),
        }
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let target = tmp.path().join("x");
    assert!(
        b.download_file("missing/key", &target)
            .await
            .is_err_and(|e| e.is_not_found())
    );
    assert!(!target.exists(), "a failed download must not leave a file");
    assert!(!must("exists", b.exists("missing/key")).await);
    must("delete missing", b.delete("missing/key")).await;
    assert!(
        must("list", b.list("missing/", ListMode::Recursive))
            .await
            .is_empty()
    );
}

/// Overwrites replace whole objects; deleted objects disappear from reads and listings.
pub async fn overwrite_and_delete(b: Arc<dyn Bucket>) {
    must("upload", b.upload("ow/obj", pattern(300, 3))).await;
    must("overwrite", b.upload("ow/obj", pattern(20, 4))).await;
    assert_eq!(must("get", b.get("ow/obj")).await, pattern(20, 4));
    must("upload sibling", b.upload("ow/keep", pattern(1, 5))).await;
    must("delete", b.delete("ow/obj")).await;
    assert!(b.get("ow/obj").await.is_err_and(|e| e.is_not_found()));
    assert_eq!(
        must("list", b.list("ow/", ListMode::Delimited)).await,
        ["ow/keep"]
    );
    must("delete again", b.delete("ow/obj")).await;
}

/// Objects larger than one S3 part (5 MiB), from bytes and from a file, read back whole and
/// across part boundaries.
pub async fn larger_than_one_multipart_part(b: Arc<dyn Bucket>) {
    let part = MIN_PART_SIZE as usize;
    let data = pattern(2 * part + 12_345, 6);
    must("upload bytes", b.upload("big/from-bytes", data.clone())).await;
    assert!(
        must("get", b.get("big/from-bytes")).await == data,
        "large object from bytes differs"
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = tmp.path().join("src");
    let file_data = pattern(part + 1, 7);
    std::fs::write(&src, &file_data).expect("write source");
    assert_eq!(
        must("upload file", b.upload_file("big/from-file", &src)).await,
        file_data.len() as u64
    );
    assert_eq!(
        must("attributes", b.attributes("big/from-file")).await.size,
        file_data.len() as u64
    );
    let across = must(
        "range across parts",
        b.get_range("big/from-bytes", part as u64 - 10, 20),
    )
    .await;
    assert_eq!(across, data.slice(part - 10..part + 10));
    let tail = must(
        "tail range",
        b.get_range("big/from-file", part as u64 - 1, 100),
    )
    .await;
    assert_eq!(tail, file_data.slice(part - 1..));
    let dst = tmp.path().join("out/dl");
    assert_eq!(
        must("download", b.download_file("big/from-file", &dst)).await,
        file_data.len() as u64
    );
    assert!(
        std::fs::read(&dst).expect("read download") == file_data,
        "downloaded file differs"
    );
}

/// Byte order, `/` delimiter directories, plain string prefixes.
pub async fn listing_semantics(b: Arc<dyn Bucket>) {
    for k in [
        "ls/a-b", "ls/a.txt", "ls/a/x", "ls/a/y/z", "ls/b", "ls/B", "ls/a0",
    ] {
        must("upload", b.upload(k, Bytes::from_static(b"1"))).await;
    }
    let list = |p: &'static str, m| {
        let b = b.clone();
        async move { must("list", b.list(p, m)).await }
    };
    assert_eq!(
        list("ls/", ListMode::Delimited).await,
        ["ls/B", "ls/a-b", "ls/a.txt", "ls/a/", "ls/a0", "ls/b"]
    );
    assert_eq!(
        list("ls/a", ListMode::Delimited).await,
        ["ls/a-b", "ls/a.txt", "ls/a/", "ls/a0"]
    );
    assert_eq!(
        list("ls/a/", ListMode::Delimited).await,
        ["ls/a/x", "ls/a/y/"]
    );
    assert_eq!(
        list("ls/a/", ListMode::Recursive).await,
        ["ls/a/x", "ls/a/y/z"]
    );
    assert_eq!(list("ls/a/y", ListMode::Delimited).await, ["ls/a/y/"]);
    assert!(list("ls/nope/", ListMode::Delimited).await.is_empty());
    assert!(list("nothing-here", ListMode::Recursive).await.is_empty());
    let top = list("", ListMode::Delimited).await;
    assert!(
        top.contains(&"ls/".to_owned()),
        "top-level listing {top:?} lacks ls/"
    );
    assert!(
        top.windows(2).all(|w| w[0] < w[1]),
        "top-level listing not sorted: {top:?}"
    );
}

/// 1,100 keys plus 20 directories below one prefix: more than one S3 page.
pub async fn listing_more_than_1000_keys_with_delimiter(b: Arc<dyn Bucket>) {
    let mut keys: Vec<String> = (0..1100).map(|i| format!("many/k{i:05}")).collect();
    keys.extend((0..20).map(|i| format!("many/sub{i:02}/x")));
    futures::stream::iter(keys.clone())
        .map(|k| {
            let b = b.clone();
            async move { b.upload(&k, Bytes::from(k.clone().into_bytes())).await }
        })
        .buffer_unordered(16)
        .try_collect::<Vec<()>>()
        .await
        .unwrap_or_else(|e| panic!("upload many: {e}"));
    let mut want: Vec<String> = (0..1100).map(|i| format!("many/k{i:05}")).collect();
    want.extend((0..20).map(|i| format!("many/sub{i:02}/")));
    assert_eq!(
        must("list delimited", b.list("many/", ListMode::Delimited)).await,
        want
    );
    keys.sort();
    assert_eq!(
        must("list recursive", b.list("many/", ListMode::Recursive)).await,
        keys
    );
    let k_only = must(
        "list string prefix",
        b.list("many/k00", ListMode::Delimited),
    )
    .await;
    assert_eq!(k_only.len(), 1000);
}

/// Many tasks writing different keys at once; racing writers on one key leave one whole value.
pub async fn concurrent_writers(b: Arc<dyn Bucket>) {
    let tasks: Vec<_> = (0..16u64)
        .map(|w| {
            let b = b.clone();
            tokio::spawn(async move {
                for i in 0..8u64 {
                    let key = format!("conc/w{w:02}/o{i}");
                    b.upload(&key, pattern(4096 + (w * 8 + i) as usize, w * 100 + i))
                        .await?;
                    b.upload("conc/shared", pattern(64 * 1024, w)).await?;
                }
                Ok::<_, Error>(())
            })
        })
        .collect();
    for t in tasks {
        t.await
            .expect("writer task")
            .unwrap_or_else(|e| panic!("concurrent upload: {e}"));
    }
    for w in 0..16u64 {
        for i in 0..8u64 {
            let got = must("get", b.get(&format!("conc/w{w:02}/o{i}"))).await;
            assert!(
                got == pattern(4096 + (w * 8 + i) as usize, w * 100 + i),
                "conc/w{w:02}/o{i} has wrong content"
            );
        }
    }
    let shared = must("get shared", b.get("conc/shared")).await;
    assert!(
        (0..16).any(|w| shared == pattern(64 * 1024, w)),
        "racing writes produced a mixed object"
    );
    assert_eq!(
        must("list", b.list("conc/", ListMode::Delimited))
            .await
            .len(),
        17
    );
}

/// Keys that are not clean relative paths are refused before touching the backend.
pub async fn invalid_keys_are_rejected(b: Arc<dyn Bucket>) {
    for key in [
        "",
        "/abs",
        "dir/",
        "a//b",
        "../escape",
        "a/../../b",
        "a/./b",
    ] {
        assert!(
            matches!(
                b.upload(key, Bytes::from_static(b"x")).await,
                Err(Error::InvalidKey { .. })
            ),
            "upload {key:?} should be InvalidKey"
        );
        assert!(
            matches!(b.get(key).await, Err(Error::InvalidKey { .. })),
            "get {key:?} should be InvalidKey"
        );
    }
}

/// `upload_dir` / `download_dir` round trip with nested directories.
pub async fn dir_upload_and_download(b: Arc<dyn Bucket>) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = tmp.path().join("src");
    std::fs::create_dir_all(src.join("x/y")).expect("mkdir");
    std::fs::write(src.join("top"), b"t").expect("write");
    std::fs::write(src.join("x/mid"), b"m").expect("write");
    std::fs::write(src.join("x/y/deep"), pattern(10_000, 8)).expect("write");
    let keys = must("upload_dir", upload_dir(b.as_ref(), &src, "dirs/")).await;
    assert_eq!(keys, ["dirs/top", "dirs/x/mid", "dirs/x/y/deep"]);
    let dst = tmp.path().join("dst");
    assert_eq!(
        must("download_dir", download_dir(b.as_ref(), "dirs/x/", &dst)).await,
        2
    );
    assert_eq!(std::fs::read(dst.join("mid")).expect("read"), b"m");
    assert!(std::fs::read(dst.join("y/deep")).expect("read") == pattern(10_000, 8));
    assert!(!dst.join("top").exists());
}

/// Block upload order, listing, meta.json, markers and deletion.
pub async fn block_layout_round_trip(b: Arc<dyn Bucket>) {
    let id = ulid::Ulid::from_string("01JAEQZ8S5R0000000000000AC").expect("ulid");
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join(id.to_string());
    std::fs::create_dir_all(dir.join("chunks")).expect("mkdir");
    std::fs::write(dir.join("chunks/000001"), pattern(5000, 9)).expect("write");
    std::fs::write(dir.join("index"), pattern(700, 10)).expect("write");
    std::fs::write(dir.join("meta.json"), b"{\"ulid\":\"x\"}").expect("write");
    assert_eq!(
        must("upload_block", block::upload_block(b.as_ref(), &dir)).await,
        id
    );
    assert!(
        must("list_blocks", block::list_blocks(b.as_ref()))
            .await
            .contains(&id)
    );
    assert_eq!(
        must("read_meta", block::read_meta(b.as_ref(), id)).await,
        Bytes::from_static(b"{\"ulid\":\"x\"}")
    );
    let mark = block::NoCompactMark {
        id,
        version: block::MARK_VERSION_1,
        details: None,
        no_compact_time: 1_700_000_000,
        reason: block::MarkReason::Manual,
    };
    must("write_mark", block::write_mark(b.as_ref(), &mark)).await;
    assert_eq!(
        must(
            "read_mark",
            block::read_mark::<block::NoCompactMark>(b.as_ref(), id)
        )
        .await,
        Some(mark)
    );
    must("delete_block", block::delete_block(b.as_ref(), id)).await;
    assert!(
        !must("list_blocks", block::list_blocks(b.as_ref()))
            .await
            .contains(&id)
    );
}
