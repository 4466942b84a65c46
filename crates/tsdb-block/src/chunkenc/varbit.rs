//! Prometheus's varbit integer encodings used by histogram chunks.

use crate::bstream::{BitReader, BitWriter, Eof};

use super::xor::bit_range;

const BUCKETS: [(u64, u32, u32); 7] = [
    // (prefix, prefix bits, value bits)
    (0b10, 2, 3),
    (0b110, 3, 6),
    (0b1110, 4, 9),
    (0b11110, 5, 12),
    (0b111110, 6, 18),
    (0b1111110, 7, 25),
    (0b11111110, 8, 56),
];

pub(crate) fn put_varbit_int(w: &mut BitWriter, v: i64) {
    if v == 0 {
        w.write_bit(false);
        return;
    }
    for &(p, pb, vb) in &BUCKETS {
        if bit_range(v, vb) {
            w.write_bits(p, pb);
            w.write_bits(v as u64, vb);
            return;
        }
    }
    w.write_bits(0b11111111, 8);
    w.write_bits(v as u64, 64);
}

pub(crate) fn put_varbit_uint(w: &mut BitWriter, v: u64) {
    if v == 0 {
        w.write_bit(false);
        return;
    }
    for &(p, pb, vb) in &BUCKETS {
        if v.leading_zeros() >= 64 - vb {
            w.write_bits(p, pb);
            w.write_bits(v, vb);
            return;
        }
    }
    w.write_bits(0b11111111, 8);
    w.write_bits(v, 64);
}

fn read_prefix(r: &mut BitReader<'_>) -> Result<u32, Eof> {
    let mut ones = 0;
    while ones < 8 {
        if !r.read_bit()? {
            break;
        }
        ones += 1;
    }
    Ok(ones)
}

pub(crate) fn read_varbit_int(r: &mut BitReader<'_>) -> Result<i64, Eof> {
    let ones = read_prefix(r)?;
    if ones == 0 {
        return Ok(0);
    }
    if ones == 8 {
        return Ok(r.read_bits(64)? as i64);
    }
    let sz = BUCKETS[ones as usize - 1].2;
    let bits = r.read_bits(sz)?;
    Ok(if bits > (1 << (sz - 1)) {
        bits as i64 - (1i64 << sz)
    } else {
        bits as i64
    })
}

pub(crate) fn read_varbit_uint(r: &mut BitReader<'_>) -> Result<u64, Eof> {
    let ones = read_prefix(r)?;
    if ones == 0 {
        return Ok(0);
    }
    if ones == 8 {
        return r.read_bits(64);
    }
    r.read_bits(BUCKETS[ones as usize - 1].2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn varbit_round_trip(ints in proptest::collection::vec(prop_oneof![any::<i64>(), -300i64..300], 0..50),
                             uints in proptest::collection::vec(prop_oneof![any::<u64>(), 0u64..300], 0..50)) {
            let mut w = BitWriter::new();
            for &v in &ints { put_varbit_int(&mut w, v); }
            for &v in &uints { put_varbit_uint(&mut w, v); }
            let b = w.into_bytes();
            let mut r = BitReader::new(&b);
            for &v in &ints { prop_assert_eq!(read_varbit_int(&mut r).unwrap(), v); }
            for &v in &uints { prop_assert_eq!(read_varbit_uint(&mut r).unwrap(), v); }
        }
    }

    #[test]
    fn bucket_boundaries_like_prometheus() {
        // 4 fits the 3-bit bucket (-3..=4); -4 does not.
        let mut w = BitWriter::new();
        put_varbit_int(&mut w, 4);
        assert_eq!(w.bit_len(), 5);
        let mut w = BitWriter::new();
        put_varbit_int(&mut w, -4);
        assert_eq!(w.bit_len(), 9);
        let mut w = BitWriter::new();
        put_varbit_uint(&mut w, 7);
        assert_eq!(w.bit_len(), 5);
    }
}
