//! The `tombstones` file: deleted time intervals per series.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;

use crate::varint::{Cursor, crc32, put_uvarint, put_varint};
use crate::{Error, Result};

pub const MAGIC_TOMBSTONES: u32 = 0x0130_BA30;
pub const TOMBSTONES_FILENAME: &str = "tombstones";

/// Deleted `[mint, maxt]` intervals (inclusive) per series ID.
pub type Tombstones = BTreeMap<u64, Vec<(i64, i64)>>;

/// Parses a tombstones file.
pub fn parse(data: &[u8], file: &str) -> Result<Tombstones> {
    if data.len() < 9 {
        return Err(Error::corrupt(
            file,
            0,
            format!("tombstones file too short ({} bytes)", data.len()),
        ));
    }
    let magic = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
    if magic != MAGIC_TOMBSTONES {
        return Err(Error::corrupt(
            file,
            0,
            format!("invalid magic number {magic:#010x}"),
        ));
    }
    if data[4] != 1 {
        return Err(Error::corrupt(
            file,
            4,
            format!("unsupported tombstones version {}", data[4]),
        ));
    }
    let body = &data[5..data.len() - 4];
    let s = &data[data.len() - 4..];
    let stored = u32::from_be_bytes([s[0], s[1], s[2], s[3]]);
    let computed = crc32(body);
    if stored != computed {
        return Err(Error::Checksum {
            file: file.into(),
            offset: 5,
            stored,
            computed,
        });
    }
    let mut c = Cursor::new(body, file, 5);
    let mut out = Tombstones::new();
    while !c.is_empty() {
        let r = c.uvarint()?;
        let mint = c.varint()?;
        let maxt = c.varint()?;
        out.entry(r).or_default().push((mint, maxt));
    }
    Ok(out)
}

/// Reads `<block>/tombstones`; a missing file means no tombstones.
pub fn read_dir(dir: &Path) -> Result<Tombstones> {
    let p = dir.join(TOMBSTONES_FILENAME);
    match std::fs::read(&p) {
        Ok(d) => parse(&d, &p.display().to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Tombstones::new()),
        Err(source) => Err(Error::Read {
            file: p.display().to_string(),
            offset: 0,
            source,
        }),
    }
}

pub fn encode(t: &Tombstones) -> Vec<u8> {
    let mut b = MAGIC_TOMBSTONES.to_be_bytes().to_vec();
    b.push(1);
    let mut body = Vec::new();
    for (r, ivs) in t {
        for (a, z) in ivs {
            put_uvarint(&mut body, *r);
            put_varint(&mut body, *a);
            put_varint(&mut body, *z);
        }
    }
    b.extend_from_slice(&body);
    b.extend_from_slice(&crc32(&body).to_be_bytes());
    b
}

pub fn write_dir(dir: &Path, t: &Tombstones) -> Result<()> {
    let p = dir.join(TOMBSTONES_FILENAME);
    let mut f = std::fs::File::create(&p).map_err(|e| Error::write(&p, e))?;
    f.write_all(&encode(t)).map_err(|e| Error::write(&p, e))?;
    f.sync_all().map_err(|e| Error::write(&p, e))
}

/// Whether `t` lies in a deleted interval.
pub fn is_deleted(ivs: &[(i64, i64)], t: i64) -> bool {
    ivs.iter().any(|&(a, z)| a <= t && t <= z)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_matches_prometheus() {
        assert_eq!(
            encode(&Tombstones::new()),
            [0x01, 0x30, 0xba, 0x30, 0x01, 0, 0, 0, 0]
        );
    }

    #[test]
    fn round_trip_and_corruption() {
        let mut t = Tombstones::new();
        t.insert(16, vec![(-5, 10), (20, 30)]);
        t.insert(48, vec![(i64::MIN, i64::MAX)]);
        let b = encode(&t);
        assert_eq!(parse(&b, "x").unwrap(), t);
        let mut bad = b.clone();
        bad[6] ^= 1;
        assert!(matches!(
            parse(&bad, "blk/tombstones"),
            Err(Error::Checksum { .. })
        ));
        assert!(matches!(parse(&b[..4], "x"), Err(Error::Corrupt { .. })));
        let mut bad = b;
        bad[0] = 9;
        assert!(parse(&bad, "x").unwrap_err().to_string().contains("magic"));
    }
}
