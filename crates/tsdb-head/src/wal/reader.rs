//! Reading segment files back into records, and telling a torn tail from
//! corruption in the middle.

#[cfg(test)]
use std::path::Path;

use super::{
    HEADER_SIZE, PAGE_SIZE, REC_FIRST, REC_FULL, REC_LAST, REC_MIDDLE, REC_PAGE_TERM, SNAPPY_FLAG,
    TYPE_MASK, ZSTD_FLAG,
};
use crate::Result;

/// Where and why reading a segment stopped early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Corruption {
    /// Offset of the first byte of the record that could not be read (the
    /// segment is valid up to here).
    pub(crate) record_start: u64,
    /// Offset of the bad fragment.
    pub(crate) offset: u64,
    pub(crate) reason: String,
    /// Whether a valid fragment starts somewhere after the bad one in this
    /// segment, i.e. this is not a torn tail.
    pub(crate) valid_data_follows: bool,
}

/// Every record of a segment (with its offset) up to the first corruption.
#[cfg(test)]
#[derive(Debug)]
pub(crate) struct SegmentRead {
    pub(crate) records: Vec<(u64, Vec<u8>)>,
    pub(crate) corruption: Option<Corruption>,
}

/// Reads a whole segment file.
#[cfg(test)]
pub(crate) fn read_segment(path: &Path) -> Result<SegmentRead> {
    let data = std::fs::read(path).map_err(|e| crate::Error::wal_io(path, e))?;
    let mut records = Vec::new();
    let corruption = parse(&data, |off, rec| {
        records.push((off, rec));
        Ok(())
    })?;
    Ok(SegmentRead {
        records,
        corruption,
    })
}

/// Calls `f` for every complete record of a segment's bytes; returns where
/// reading stopped if the data is corrupt or torn.
pub(crate) fn parse(
    data: &[u8],
    mut f: impl FnMut(u64, Vec<u8>) -> Result<()>,
) -> Result<Option<Corruption>> {
    let mut pos = 0usize;
    let mut rec: Vec<u8> = Vec::new();
    let mut rec_start = 0usize;
    let mut in_record = false;
    let mut snappy = snap::raw::Decoder::new();
    let corrupt = |record_start: usize, offset: usize, reason: String, next: usize| {
        Some(Corruption {
            record_start: record_start as u64,
            offset: offset as u64,
            reason,
            valid_data_follows: valid_fragment_after(data, next, offset),
        })
    };
    while pos < data.len() {
        let page_left = PAGE_SIZE - pos % PAGE_SIZE;
        let typ_byte = data[pos];
        let typ = typ_byte & TYPE_MASK;
        if typ == REC_PAGE_TERM {
            // The rest of the page is padding and must be zero.
            let end = (pos + page_left).min(data.len());
            if let Some(i) = data[pos..end].iter().position(|&b| b != 0) {
                let start = if in_record { rec_start } else { pos };
                return Ok(corrupt(
                    start,
                    pos + i,
                    "non-zero byte in a padded page".into(),
                    end,
                ));
            }
            pos = end;
            continue;
        }
        let start = if in_record { rec_start } else { pos };
        if page_left < HEADER_SIZE || pos + HEADER_SIZE > data.len() {
            return Ok(corrupt(
                start,
                pos,
                "truncated fragment header".into(),
                pos + page_left,
            ));
        }
        let len = usize::from(u16::from_be_bytes([data[pos + 1], data[pos + 2]]));
        let crc = u32::from_be_bytes([data[pos + 3], data[pos + 4], data[pos + 5], data[pos + 6]]);
        if HEADER_SIZE + len > page_left {
            return Ok(corrupt(
                start,
                pos,
                format!("fragment of {len} bytes overflows its page"),
                pos + page_left,
            ));
        }
        if pos + HEADER_SIZE + len > data.len() {
            return Ok(corrupt(
                start,
                pos,
                "segment ends inside a fragment".into(),
                data.len(),
            ));
        }
        let body = &data[pos + HEADER_SIZE..pos + HEADER_SIZE + len];
        let next = pos + HEADER_SIZE + len;
        if crc32c::crc32c(body) != crc {
            return Ok(corrupt(
                start,
                pos,
                "fragment checksum mismatch".into(),
                next,
            ));
        }
        if typ_byte & !(TYPE_MASK | SNAPPY_FLAG | ZSTD_FLAG) != 0 || typ > REC_LAST {
            return Ok(corrupt(
                start,
                pos,
                format!("invalid fragment type byte {typ_byte:#04x}"),
                next,
            ));
        }
        match (typ, in_record) {
            (REC_FULL | REC_FIRST, false) => {
                rec.clear();
                rec_start = pos;
                in_record = typ == REC_FIRST;
            }
            (REC_MIDDLE | REC_LAST, true) => in_record = typ == REC_MIDDLE,
            _ => {
                return Ok(corrupt(
                    start,
                    pos,
                    format!("unexpected fragment type {typ} (inside a record: {in_record})"),
                    next,
                ));
            }
        }
        rec.extend_from_slice(body);
        pos = next;
        if in_record {
            continue;
        }
        let out = if typ_byte & ZSTD_FLAG != 0 {
            // Not a torn write: refuse rather than drop the rest.
            return Ok(Some(Corruption {
                record_start: rec_start as u64,
                offset: rec_start as u64,
                reason: "zstd-compressed record: not supported, use snappy or no WAL compression"
                    .into(),
                valid_data_follows: true,
            }));
        } else if typ_byte & SNAPPY_FLAG != 0 {
            match snappy.decompress_vec(&rec) {
                Ok(v) => v,
                Err(e) => {
                    return Ok(corrupt(rec_start, rec_start, format!("snappy: {e}"), next));
                }
            }
        } else {
            std::mem::take(&mut rec)
        };
        f(rec_start as u64, out)?;
    }
    if in_record {
        return Ok(Some(Corruption {
            record_start: rec_start as u64,
            offset: data.len() as u64,
            reason: "segment ends inside a record".into(),
            valid_data_follows: false,
        }));
    }
    Ok(None)
}

/// Whether a checksummed fragment that starts a record begins at `next` or
/// at any later page start (after the bad fragment at `bad`).
fn valid_fragment_after(data: &[u8], next: usize, bad: usize) -> bool {
    let starts_record = |p: usize| -> bool {
        if p + HEADER_SIZE > data.len() || PAGE_SIZE - p % PAGE_SIZE < HEADER_SIZE {
            return false;
        }
        let typ = data[p] & TYPE_MASK;
        if !(typ == REC_FULL || typ == REC_FIRST) || data[p] & !(TYPE_MASK | SNAPPY_FLAG) != 0 {
            return false;
        }
        let len = usize::from(u16::from_be_bytes([data[p + 1], data[p + 2]]));
        let crc = u32::from_be_bytes([data[p + 3], data[p + 4], data[p + 5], data[p + 6]]);
        len > 0
            && HEADER_SIZE + len <= PAGE_SIZE - p % PAGE_SIZE
            && p + HEADER_SIZE + len <= data.len()
            && crc32c::crc32c(&data[p + HEADER_SIZE..p + HEADER_SIZE + len]) == crc
    };
    if next > bad && starts_record(next) {
        return true;
    }
    let mut p = (bad / PAGE_SIZE + 1) * PAGE_SIZE;
    while p < data.len() {
        if starts_record(p) {
            return true;
        }
        p += PAGE_SIZE;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::super::{Wal, WalOptions, list_segments};
    use super::*;

    fn write(dir: &Path, recs: &[Vec<u8>]) -> Vec<u8> {
        let mut w = Wal::create(dir, 0, WalOptions::default()).unwrap();
        for r in recs {
            w.log(std::slice::from_ref(r)).unwrap();
        }
        drop(w);
        std::fs::read(&list_segments(dir).unwrap()[0].1).unwrap()
    }

    fn recs() -> Vec<Vec<u8>> {
        (0..30u8)
            .map(|i| vec![i; 1000 + usize::from(i) * 500])
            .collect()
    }

    fn read(data: &[u8]) -> (Vec<Vec<u8>>, Option<Corruption>) {
        let mut out = Vec::new();
        let c = parse(data, |_, r| {
            out.push(r);
            Ok(())
        })
        .unwrap();
        (out, c)
    }

    #[test]
    fn every_truncation_keeps_the_records_before_it_and_is_a_torn_tail() {
        let d = tempfile::tempdir().unwrap();
        let all = recs();
        let data = write(d.path(), &all);
        let mut step = 1;
        let mut cut = 0;
        while cut < data.len() {
            let (got, c) = read(&data[..cut]);
            assert!(got.len() <= all.len());
            assert_eq!(got[..], all[..got.len()], "cut at {cut}");
            if let Some(c) = c {
                assert!(!c.valid_data_follows, "cut at {cut}: {c:?}");
                assert!(c.record_start <= cut as u64);
            }
            cut += step;
            step = step % 97 + 13;
        }
        assert_eq!(read(&data).0, all);
    }

    #[test]
    fn a_flipped_byte_in_the_middle_is_corruption_with_data_after_it() {
        let d = tempfile::tempdir().unwrap();
        let all = recs();
        let mut data = write(d.path(), &all);
        let at = data.len() / 3;
        data[at] ^= 0x40;
        let (got, c) = read(&data);
        let c = c.expect("corruption detected");
        assert!(c.valid_data_follows, "{c:?}");
        assert!(got.len() < all.len());
        assert_eq!(got[..], all[..got.len()]);
        // The same flip in the last record is a torn tail.
        let d = tempfile::tempdir().unwrap();
        let mut data = write(d.path(), &all[..1]);
        data[20] ^= 1;
        let (got, c) = read(&data);
        assert!(got.is_empty());
        assert!(!c.unwrap().valid_data_follows);
    }
}
