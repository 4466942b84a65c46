//! Real-peer check: the standard fixture's OpenMetrics export is accepted by
//! Prometheus 3.5's `promtool tsdb create-blocks-from openmetrics`, and our
//! XOR decoder reads every chunk promtool wrote back to exactly the fixture's
//! samples. Needs promtool at `$AEON_PEERS_DIR/prometheus3/bin` (default
//! /opt/peers); fails if it is missing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use aeon_storeapi::testutil::{Fixture, decode_xor};

fn promtool() -> PathBuf {
    aeon_testkit::peers::promtool()
}

fn uvarint(b: &[u8], pos: &mut usize) -> u64 {
    let mut x = 0u64;
    let mut shift = 0;
    loop {
        let byte = b[*pos];
        *pos += 1;
        x |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return x;
        }
        shift += 7;
    }
}

/// Decodes every XOR chunk of a block's `chunks/` segment files
/// (header: magic 0x85BD40DD, version, 3 padding bytes; then per chunk
/// uvarint len, encoding byte, data, CRC32C of encoding+data).
fn chunk_samples(block: &Path) -> Vec<(i64, u64)> {
    let mut out = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(block.join("chunks"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in files {
        let b = std::fs::read(&f).unwrap();
        assert_eq!(
            &b[..4],
            &[0x85, 0xbd, 0x40, 0xdd],
            "segment magic of {}",
            f.display()
        );
        let mut pos = 8;
        while pos < b.len() {
            let len = uvarint(&b, &mut pos) as usize;
            let enc = b[pos];
            let data = &b[pos + 1..pos + 1 + len];
            let crc = u32::from_be_bytes(b[pos + 1 + len..pos + 5 + len].try_into().unwrap());
            assert_eq!(
                crc32c::crc32c(&b[pos..pos + 1 + len]),
                crc,
                "chunk CRC at {pos}"
            );
            assert_eq!(enc, 1, "float chunks are XOR (encoding 1)");
            out.extend(
                decode_xor(data)
                    .expect("decodable XOR chunk")
                    .into_iter()
                    .map(|s| (s.t, s.v.to_bits())),
            );
            pos += 5 + len;
        }
    }
    out
}

#[test]
fn promtool_blocks_of_the_fixture_decode_to_its_samples() {
    let promtool = promtool();
    let dir = tempfile::tempdir().unwrap();
    let f = Fixture::standard();
    let input = dir.path().join("fixture.om");
    std::fs::write(&input, f.to_openmetrics()).unwrap();
    let out = dir.path().join("blocks");
    let st = Command::new(promtool)
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&input)
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "promtool failed: {}",
        String::from_utf8_lossy(&st.stderr)
    );
    let mut got = Vec::new();
    for e in std::fs::read_dir(&out).unwrap() {
        let p = e.unwrap().path();
        if p.join("meta.json").exists() {
            got.extend(chunk_samples(&p));
        }
    }
    let mut want: Vec<(i64, u64)> = f
        .series
        .iter()
        .flat_map(|s| s.samples.iter().map(|x| (x.t, x.v.to_bits())))
        .collect();
    let count = |v: &[(i64, u64)]| {
        v.iter().fold(BTreeMap::new(), |mut m, k| {
            *m.entry(*k).or_insert(0usize) += 1;
            m
        })
    };
    want.sort();
    got.sort();
    assert_eq!(got.len(), want.len(), "sample count in promtool's chunks");
    assert_eq!(count(&got), count(&want));
}
