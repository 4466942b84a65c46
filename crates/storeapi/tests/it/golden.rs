//! Golden wire bytes, derived by hand from the field numbers and types in
//! COMPAT-NOTES §2/§3 (not produced by our encoder). Tag byte = (field << 3)
//! | wire type; wire type 0 = varint, 2 = length-delimited. proto3 omits
//! fields at their default value and packs repeated scalars/enums.

use aeon_model::Sample;
use aeon_storeapi::pb::{prometheus as prom, thanos};
use aeon_storeapi::testutil::encode_xor;
use bytes::Bytes;
use prost::Message;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn assert_wire<M: Message + Default + PartialEq + std::fmt::Debug>(msg: &M, want_hex: &str) {
    let want = hex(want_hex);
    assert_eq!(
        msg.encode_to_vec(),
        want,
        "encoding differs from the hand-derived bytes"
    );
    assert_eq!(
        &M::decode(want.as_slice()).unwrap(),
        msg,
        "decoding the hand-derived bytes differs"
    );
}

#[test]
fn series_request_every_field() {
    let req = thanos::SeriesRequest {
        min_time: 1,
        max_time: 2,
        matchers: vec![thanos::LabelMatcher {
            r#type: 2,
            name: "a".into(),
            value: "b".into(),
        }],
        max_resolution_window: 300_000,
        aggregates: vec![thanos::Aggr::Count as i32, thanos::Aggr::Sum as i32],
        partial_response_disabled: true,
        partial_response_strategy: thanos::PartialResponseStrategy::Abort as i32,
        skip_chunks: true,
        hints: Some(prost_types::Any {
            type_url: "x".into(),
            value: vec![1],
        }),
        step: 3,
        range: 4,
        query_hints: Some(thanos::QueryHints {
            step_millis: 5,
            func: Some(thanos::Func { name: "f".into() }),
            grouping: Some(thanos::Grouping {
                by: true,
                labels: vec!["g".into()],
            }),
            range: Some(thanos::Range { millis: 6 }),
            projection_labels: vec!["p".into()],
            projection_include: true,
            series_hash_label_name: "h".into(),
        }),
        shard_info: Some(thanos::ShardInfo {
            shard_index: 1,
            total_shards: 2,
            by: true,
            labels: vec!["l".into()],
        }),
        without_replica_labels: vec!["r".into()],
        limit: 7,
        response_batch_size: 8,
    };
    let want = strip_comments(
        "08 01            # 1 min_time varint 1
         10 02            # 2 max_time varint 2
         1a 08            # 3 matchers, 8 bytes:
            08 02         #   1 type = RE (2)
            12 01 61      #   2 name \"a\"
            1a 01 62      #   3 value \"b\"
         20 e0 a7 12      # 4 max_resolution_window = 300000 (varint e0 a7 12)
         2a 02 01 02      # 5 aggregates packed [COUNT=1, SUM=2]
         30 01            # 6 partial_response_disabled true
         38 01            # 7 partial_response_strategy ABORT
         40 01            # 8 skip_chunks true
         4a 06            # 9 hints Any, 6 bytes:
            0a 01 78      #   1 type_url \"x\"
            12 01 01      #   2 value [01]
         50 03            # 10 step 3
         58 04            # 11 range 4
         62 1a            # 12 query_hints, 26 bytes:
            08 05         #   1 step_millis 5
            12 03 0a 01 66    # 2 func {1 name \"f\"}
            22 05 08 01 1a 01 67  # 4 grouping {1 by true, 3 labels \"g\"}
            2a 02 08 06   #   5 range {1 millis 6}
            32 01 70      #   6 projection_labels \"p\"
            38 01         #   7 projection_include true
            42 01 68      #   8 series_hash_label_name \"h\"
         6a 09            # 13 shard_info, 9 bytes:
            08 01 10 02 18 01 22 01 6c  # index 1, total 2, by true, labels \"l\"
         72 01 72         # 14 without_replica_labels \"r\"
         78 07            # 15 limit 7
         80 01 08         # 16 response_batch_size 8 (tag 16<<3 = 128 = varint 80 01)",
    );
    assert_wire(&req, &want);
}

/// Two samples (1000, 1.0), (2000, 1.0) as an XOR chunk, by hand (§4.5):
/// count 00 02; t0 zigzag varint(1000)=2000 → d0 0f; v0 raw 3ff0000000000000;
/// delta uvarint(1000) → e8 07; value XOR 0 → one '0' bit, padded → 00.
const XOR_2: &str = "00 02 d0 0f 3f f0 00 00 00 00 00 00 e8 07 00";

#[test]
fn xor_chunk_by_hand() {
    let c = encode_xor(&[Sample { t: 1000, v: 1.0 }, Sample { t: 2000, v: 1.0 }]);
    assert_eq!(c.to_vec(), hex(XOR_2));
}

fn strip_comments(s: &str) -> String {
    s.lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn series_response_with_xor_chunk() {
    let resp = thanos::SeriesResponse::series(thanos::Series {
        labels: vec![thanos::Label::new("__name__", "up")],
        chunks: vec![thanos::AggrChunk::raw(
            1000,
            2000,
            thanos::Chunk {
                r#type: thanos::chunk::Encoding::Xor as i32,
                data: Bytes::from(hex(XOR_2)),
                hash: 300,
            },
        )],
    });
    let want = format!(
        "0a 2e                       # SeriesResponse.1 series, 46 bytes
           0a 0e                     #   Series.1 labels, 14 bytes:
              0a 08 5f 5f 6e 61 6d 65 5f 5f   # 1 name \"__name__\"
              12 02 75 70            #     2 value \"up\"
           12 1c                     #   Series.2 chunks (AggrChunk), 28 bytes:
              08 e8 07               #     1 min_time 1000
              10 d0 0f               #     2 max_time 2000
              1a 14                  #     3 raw (Chunk), 20 bytes:
                                     #       1 type XOR=0 is the default: omitted
                 12 0f {XOR_2}       #       2 data, 15 bytes
                 18 ac 02            #       3 hash 300"
    );
    assert_wire(&resp, &strip_comments(&want));
}

#[test]
fn info_response() {
    use thanos::info;
    let ext = thanos::ZLabelSet {
        labels: vec![thanos::Label::new("region", "eu")],
    };
    let resp = info::InfoResponse {
        label_sets: vec![ext.clone()],
        component_type: "sidecar".into(),
        store: Some(info::StoreInfo {
            min_time: 1000,
            max_time: i64::MAX,
            supports_sharding: true,
            supports_without_replica_labels: true,
            tsdb_infos: vec![info::TsdbInfo {
                labels: Some(ext),
                min_time: 1000,
                max_time: 2000,
            }],
            supports_projections: false,
        }),
        rules: Some(info::RulesInfo {}),
        exemplars: Some(info::ExemplarsInfo {
            min_time: 1,
            max_time: 2,
        }),
        query: Some(info::QueryApiInfo {}),
        ..Default::default()
    };
    let want = "0a 0e                        # 1 label_sets (ZLabelSet), 14 bytes:
                  0a 0c                  #   1 labels, 12 bytes:
                     0a 06 72 65 67 69 6f 6e   # name \"region\"
                     12 02 65 75         #     value \"eu\"
                12 07 73 69 64 65 63 61 72   # 2 ComponentType \"sidecar\"
                1a 29                    # 3 store (StoreInfo), 41 bytes:
                  08 e8 07               #   1 min_time 1000
                  10 ff ff ff ff ff ff ff ff 7f  # 2 max_time 2^63-1 (9-byte varint)
                  18 01                  #   3 supports_sharding
                  28 01                  #   5 supports_without_replica_labels (4 reserved)
                  32 16                  #   6 tsdb_infos, 22 bytes:
                     0a 0e 0a 0c 0a 06 72 65 67 69 6f 6e 12 02 65 75  # 1 labels
                     10 e8 07            #     2 min_time 1000
                     18 d0 0f            #     3 max_time 2000
                22 00                    # 4 rules: empty message, present
                3a 04 08 01 10 02        # 7 exemplars {1 min_time 1, 2 max_time 2}
                42 00                    # 8 query: empty message, present";
    assert_wire(&resp, &strip_comments(want));
}

#[test]
fn prometheus_read_request() {
    let req = prom::ReadRequest {
        queries: vec![prom::Query {
            start_timestamp_ms: 1000,
            end_timestamp_ms: 2000,
            matchers: vec![prom::LabelMatcher {
                r#type: 0,
                name: "__name__".into(),
                value: "up".into(),
            }],
            hints: None,
        }],
        accepted_response_types: vec![prom::read_request::ResponseType::StreamedXorChunks as i32],
    };
    let want = "0a 16                        # 1 queries, 22 bytes:
                  08 e8 07               #   1 start_timestamp_ms 1000
                  10 d0 0f               #   2 end_timestamp_ms 2000
                  1a 0e                  #   3 matchers, 14 bytes (type EQ=0 omitted):
                     12 08 5f 5f 6e 61 6d 65 5f 5f  # 2 name
                     1a 02 75 70         #     3 value \"up\"
                12 01 01                 # 2 accepted_response_types packed [STREAMED_XOR_CHUNKS=1]";
    assert_wire(&req, &strip_comments(want));
}

#[test]
fn prometheus_chunked_read_response() {
    let resp = prom::ChunkedReadResponse {
        chunked_series: vec![prom::ChunkedSeries {
            labels: vec![prom::Label {
                name: "a".into(),
                value: "b".into(),
            }],
            chunks: vec![prom::Chunk {
                min_time_ms: 1000,
                max_time_ms: 2000,
                r#type: prom::chunk::Encoding::Xor as i32,
                data: Bytes::from(hex(XOR_2)),
            }],
        }],
        query_index: 1,
    };
    let want = format!(
        "0a 23                        # 1 chunked_series, 35 bytes:
           0a 06 0a 01 61 12 01 62   #   1 labels {{a=b}}
           12 19                     #   2 chunks, 25 bytes:
              08 e8 07               #     1 min_time_ms 1000
              10 d0 0f               #     2 max_time_ms 2000
              18 01                  #     3 type XOR=1 (remote-read enum is shifted by one)
              22 0f {XOR_2}          #     4 data, 15 bytes
         10 01                       # 2 query_index 1"
    );
    assert_wire(&resp, &strip_comments(&want));
}
