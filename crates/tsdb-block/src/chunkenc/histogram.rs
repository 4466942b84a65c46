//! Native histogram chunks (integer and float), bit-exact with Prometheus.

use aeon_model::histogram as model;

use crate::bstream::{BitReader, BitWriter, Eof};
use crate::{Error, Result};

use super::varbit::{put_varbit_int, put_varbit_uint, read_varbit_int, read_varbit_uint};
use super::xor::{xor_read, xor_write};

pub use aeon_model::histogram::{CUSTOM_BUCKETS_SCHEMA, CounterResetHint, Span};

fn header_bits(hint: CounterResetHint) -> u8 {
    match hint {
        CounterResetHint::Unknown => 0,
        CounterResetHint::CounterReset => 0b1000_0000,
        CounterResetHint::NotCounterReset => 0b0100_0000,
        CounterResetHint::Gauge => 0b1100_0000,
    }
}

fn hint_from_header(b: u8) -> CounterResetHint {
    match b & 0b1100_0000 {
        0b1000_0000 => CounterResetHint::CounterReset,
        0b0100_0000 => CounterResetHint::NotCounterReset,
        0b1100_0000 => CounterResetHint::Gauge,
        _ => CounterResetHint::Unknown,
    }
}

/// The hint a sample gets from the chunk header (Prometheus
/// `counterResetHint`): gauge stays gauge, later samples are not resets.
fn hint_for_sample(header: CounterResetHint, num_read: usize) -> CounterResetHint {
    match header {
        CounterResetHint::Gauge => CounterResetHint::Gauge,
        _ if num_read > 1 => CounterResetHint::NotCounterReset,
        CounterResetHint::CounterReset => CounterResetHint::CounterReset,
        _ => CounterResetHint::Unknown,
    }
}

/// A native histogram with integer counts; buckets are delta-encoded
/// (each relative to the previous bucket), as in Prometheus.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Histogram {
    pub counter_reset_hint: CounterResetHint,
    pub schema: i32,
    pub zero_threshold: f64,
    pub zero_count: u64,
    pub count: u64,
    pub sum: f64,
    pub positive_spans: Vec<Span>,
    pub negative_spans: Vec<Span>,
    pub positive_buckets: Vec<i64>,
    pub negative_buckets: Vec<i64>,
    pub custom_values: Vec<f64>,
}

/// A native histogram with float counts; buckets hold absolute counts.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FloatHistogram {
    pub counter_reset_hint: CounterResetHint,
    pub schema: i32,
    pub zero_threshold: f64,
    pub zero_count: f64,
    pub count: f64,
    pub sum: f64,
    pub positive_spans: Vec<Span>,
    pub negative_spans: Vec<Span>,
    pub positive_buckets: Vec<f64>,
    pub negative_buckets: Vec<f64>,
    pub custom_values: Vec<f64>,
}

impl Histogram {
    /// A staleness marker histogram.
    pub fn stale() -> Self {
        Self {
            sum: aeon_model::stale_nan(),
            ..Default::default()
        }
    }

    /// Converts to a float histogram (absolute bucket counts).
    pub fn to_float(&self) -> FloatHistogram {
        let abs = |d: &[i64]| {
            let mut c = 0i64;
            d.iter()
                .map(|x| {
                    c = c.wrapping_add(*x);
                    c as f64
                })
                .collect()
        };
        FloatHistogram {
            counter_reset_hint: self.counter_reset_hint,
            schema: self.schema,
            zero_threshold: self.zero_threshold,
            zero_count: self.zero_count as f64,
            count: self.count as f64,
            sum: self.sum,
            positive_spans: self.positive_spans.clone(),
            negative_spans: self.negative_spans.clone(),
            positive_buckets: abs(&self.positive_buckets),
            negative_buckets: abs(&self.negative_buckets),
            custom_values: self.custom_values.clone(),
        }
    }
}

impl FloatHistogram {
    pub fn stale() -> Self {
        Self {
            sum: aeon_model::stale_nan(),
            ..Default::default()
        }
    }

    /// The histogram with its buckets keyed by index, for arithmetic
    /// ([`aeon_model::histogram`]); an error when the spans and bucket
    /// counts disagree.
    pub fn to_model(&self) -> aeon_model::Result<model::FloatHistogram> {
        Ok(model::FloatHistogram {
            counter_reset_hint: self.counter_reset_hint,
            schema: self.schema,
            zero_threshold: self.zero_threshold,
            zero_count: self.zero_count,
            count: self.count,
            sum: self.sum,
            positive: model::expand_spans(&self.positive_spans, &self.positive_buckets)?,
            negative: model::expand_spans(&self.negative_spans, &self.negative_buckets)?,
            custom_values: self.custom_values.clone(),
        })
    }

    /// `h` laid out on the bucket indices `positive` and `negative` (sorted;
    /// buckets of `h` outside them are dropped, missing ones are 0), so that
    /// histograms with different buckets can share one chunk layout.
    pub fn from_model(
        h: &model::FloatHistogram,
        positive: impl IntoIterator<Item = i32>,
        negative: impl IntoIterator<Item = i32>,
    ) -> Self {
        let (positive_spans, positive_buckets) = model::spans_for(positive, &h.positive);
        let (negative_spans, negative_buckets) = model::spans_for(negative, &h.negative);
        Self {
            counter_reset_hint: h.counter_reset_hint,
            schema: h.schema,
            zero_threshold: h.zero_threshold,
            zero_count: h.zero_count,
            count: h.count,
            sum: h.sum,
            positive_spans,
            negative_spans,
            positive_buckets,
            negative_buckets,
            custom_values: h.custom_values.clone(),
        }
    }
}

fn count_spans(s: &[Span]) -> usize {
    s.iter().map(|s| s.length as usize).sum()
}

#[derive(Debug)]
struct Layout {
    schema: i32,
    zero_threshold: f64,
    pos: Vec<Span>,
    neg: Vec<Span>,
    custom: Vec<f64>,
}

fn frexp(v: f64) -> (f64, i32) {
    if v == 0.0 || !v.is_finite() {
        return (v, 0);
    }
    let bits = v.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32;
    if exp == 0 {
        // Subnormal: normalise first.
        let (f, e) = frexp(v * 2f64.powi(64));
        return (f, e - 64);
    }
    let frac = f64::from_bits((bits & !(0x7ffu64 << 52)) | (1022u64 << 52));
    (frac, exp - 1022)
}

fn put_zero_threshold(w: &mut BitWriter, t: f64) {
    if t == 0.0 {
        w.write_byte(0);
        return;
    }
    let (frac, exp) = frexp(t);
    if frac != 0.5 || !(-242..=11).contains(&exp) {
        w.write_byte(255);
        w.write_bits(t.to_bits(), 64);
        return;
    }
    w.write_byte((exp + 243) as u8);
}

fn read_zero_threshold(r: &mut BitReader<'_>) -> Result<f64, Eof> {
    match r.read_byte()? {
        0 => Ok(0.0),
        255 => Ok(f64::from_bits(r.read_bits(64)?)),
        b => Ok(0.5 * 2f64.powi(i32::from(b) - 243)),
    }
}

fn is_whole_when_multiplied(v: f64) -> bool {
    let i = (v * 1000.0).round() as u64;
    (i as f64) / 1000.0 == v
}

fn put_custom_bound(w: &mut BitWriter, f: f64) {
    let tf = f * 1000.0;
    if !(0.0..=33_554_430.0).contains(&tf) || !is_whole_when_multiplied(f) {
        w.write_bit(false);
        w.write_bits(f.to_bits(), 64);
        return;
    }
    put_varbit_uint(w, tf.round() as u64 + 1);
}

fn read_custom_bound(r: &mut BitReader<'_>) -> Result<f64, Eof> {
    match read_varbit_uint(r)? {
        0 => Ok(f64::from_bits(r.read_bits(64)?)),
        b => Ok((b - 1) as f64 / 1000.0),
    }
}

fn put_spans(w: &mut BitWriter, spans: &[Span]) {
    put_varbit_uint(w, spans.len() as u64);
    for s in spans {
        put_varbit_uint(w, u64::from(s.length));
        put_varbit_int(w, i64::from(s.offset));
    }
}

fn read_spans(r: &mut BitReader<'_>) -> Result<Vec<Span>, Eof> {
    let n = read_varbit_uint(r)?;
    let mut v = Vec::new();
    for _ in 0..n {
        let length = read_varbit_uint(r)? as u32;
        let offset = read_varbit_int(r)? as i32;
        v.push(Span { offset, length });
        if v.len() > 1 << 16 {
            return Err(Eof);
        }
    }
    Ok(v)
}

fn write_layout(w: &mut BitWriter, l: &Layout) {
    put_zero_threshold(w, l.zero_threshold);
    put_varbit_int(w, i64::from(l.schema));
    put_spans(w, &l.pos);
    put_spans(w, &l.neg);
    if l.schema == CUSTOM_BUCKETS_SCHEMA {
        put_varbit_uint(w, l.custom.len() as u64);
        for &c in &l.custom {
            put_custom_bound(w, c);
        }
    }
}

fn read_layout(r: &mut BitReader<'_>) -> Result<Layout, Eof> {
    let zero_threshold = read_zero_threshold(r)?;
    let schema = read_varbit_int(r)? as i32;
    let pos = read_spans(r)?;
    let neg = read_spans(r)?;
    let mut custom = Vec::new();
    if schema == CUSTOM_BUCKETS_SCHEMA {
        let n = read_varbit_uint(r)?;
        if n > 1 << 16 {
            return Err(Eof);
        }
        for _ in 0..n {
            custom.push(read_custom_bound(r)?);
        }
    }
    // Bucket counts bounded by the data actually present.
    if count_spans(&pos) + count_spans(&neg) > r.remaining() + 1 {
        return Err(Eof);
    }
    Ok(Layout {
        schema,
        zero_threshold,
        pos,
        neg,
        custom,
    })
}

fn header_check(data: &[u8], enc: &'static str) -> Result<()> {
    if data.len() < 3 {
        return Err(Error::DecodeChunk {
            encoding: enc,
            bit: 0,
            reason: "payload shorter than 3 bytes".into(),
        });
    }
    Ok(())
}

fn derr(enc: &'static str, r: &BitReader<'_>, reason: &str) -> Error {
    Error::DecodeChunk {
        encoding: enc,
        bit: r.pos() as u64 + 24,
        reason: reason.into(),
    }
}

fn is_stale(v: f64) -> bool {
    aeon_model::is_stale_nan(v)
}

/// A histogram chunk payload (`u16 count | flags | bitstream`).
#[derive(Debug, Clone, Copy)]
pub struct HistogramChunk<'a> {
    data: &'a [u8],
}

impl<'a> HistogramChunk<'a> {
    pub fn new(data: &'a [u8]) -> Result<Self> {
        header_check(data, "histogram")?;
        Ok(Self { data })
    }

    pub fn num_samples(&self) -> usize {
        usize::from(u16::from_be_bytes([self.data[0], self.data[1]]))
    }

    pub fn counter_reset_header(&self) -> CounterResetHint {
        hint_from_header(self.data[2])
    }

    /// Decodes all samples.
    pub fn samples(&self) -> Result<Vec<(i64, Histogram)>> {
        self.iter().collect()
    }

    /// Lazily decodes samples; stops after the first error.
    pub fn iter(&self) -> HistogramIter<'a> {
        HistogramIter {
            r: BitReader::new(&self.data[3..]),
            total: self.num_samples(),
            i: 0,
            header: self.counter_reset_header(),
            layout: None,
            pb: Vec::new(),
            nb: Vec::new(),
            pbd: Vec::new(),
            nbd: Vec::new(),
            t: 0,
            cnt: 0,
            zcnt: 0,
            td: 0,
            cd: 0,
            zd: 0,
            sum: 0,
            leading: 0,
            trailing: 0,
            failed: false,
        }
    }
}

/// Iterator over a histogram chunk: `Ok((t, histogram))` per sample, or
/// one `Err` for corrupt data after which it ends.
#[derive(Debug)]
pub struct HistogramIter<'a> {
    r: BitReader<'a>,
    total: usize,
    i: usize,
    header: CounterResetHint,
    layout: Option<Layout>,
    pb: Vec<i64>,
    nb: Vec<i64>,
    pbd: Vec<i64>,
    nbd: Vec<i64>,
    t: i64,
    cnt: u64,
    zcnt: u64,
    td: i64,
    cd: i64,
    zd: i64,
    sum: u64,
    leading: u8,
    trailing: u8,
    failed: bool,
}

impl HistogramIter<'_> {
    fn step(&mut self) -> Result<(), Eof> {
        let r = &mut self.r;
        if self.i == 0 {
            self.t = read_varbit_int(r)?;
            self.cnt = read_varbit_uint(r)?;
            self.zcnt = read_varbit_uint(r)?;
            self.sum = r.read_bits(64)?;
            for b in self.pb.iter_mut().chain(self.nb.iter_mut()) {
                *b = read_varbit_int(r)?;
            }
            return Ok(());
        }
        self.td = self.td.wrapping_add(read_varbit_int(r)?);
        self.t = self.t.wrapping_add(self.td);
        self.cd = self.cd.wrapping_add(read_varbit_int(r)?);
        self.cnt = (self.cnt as i64).wrapping_add(self.cd) as u64;
        self.zd = self.zd.wrapping_add(read_varbit_int(r)?);
        self.zcnt = (self.zcnt as i64).wrapping_add(self.zd) as u64;
        xor_read(r, &mut self.sum, &mut self.leading, &mut self.trailing)?;
        if is_stale(f64::from_bits(self.sum)) {
            return Ok(());
        }
        for (b, d) in self
            .pb
            .iter_mut()
            .zip(self.pbd.iter_mut())
            .chain(self.nb.iter_mut().zip(self.nbd.iter_mut()))
        {
            *d = d.wrapping_add(read_varbit_int(r)?);
            *b = b.wrapping_add(*d);
        }
        Ok(())
    }
}

impl Iterator for HistogramIter<'_> {
    type Item = Result<(i64, Histogram)>;

    fn next(&mut self) -> Option<Self::Item> {
        const ENC: &str = "histogram";
        if self.failed || self.i >= self.total {
            return None;
        }
        if self.layout.is_none() {
            let l = match read_layout(&mut self.r) {
                Ok(l) => l,
                Err(_) => {
                    self.failed = true;
                    return Some(Err(derr(ENC, &self.r, "truncated or invalid bitstream")));
                }
            };
            if !(-4..=8).contains(&l.schema) && l.schema != CUSTOM_BUCKETS_SCHEMA {
                self.failed = true;
                return Some(Err(derr(
                    ENC,
                    &self.r,
                    &format!("unknown histogram schema {}", l.schema),
                )));
            }
            let (np, nn) = (count_spans(&l.pos), count_spans(&l.neg));
            self.pb = vec![0; np];
            self.nb = vec![0; nn];
            self.pbd = vec![0; np];
            self.nbd = vec![0; nn];
            self.layout = Some(l);
        }
        if self.step().is_err() {
            self.failed = true;
            return Some(Err(derr(ENC, &self.r, "truncated or invalid bitstream")));
        }
        self.i += 1;
        let s = f64::from_bits(self.sum);
        if is_stale(s) {
            return Some(Ok((self.t, Histogram::stale())));
        }
        let l = self.layout.as_ref()?;
        Some(Ok((
            self.t,
            Histogram {
                counter_reset_hint: hint_for_sample(self.header, self.i),
                schema: l.schema,
                zero_threshold: l.zero_threshold,
                zero_count: self.zcnt,
                count: self.cnt,
                sum: s,
                positive_spans: l.pos.clone(),
                negative_spans: l.neg.clone(),
                positive_buckets: self.pb.clone(),
                negative_buckets: self.nb.clone(),
                custom_values: l.custom.clone(),
            },
        )))
    }
}

/// A float histogram chunk payload.
#[derive(Debug, Clone, Copy)]
pub struct FloatHistogramChunk<'a> {
    data: &'a [u8],
}

impl<'a> FloatHistogramChunk<'a> {
    pub fn new(data: &'a [u8]) -> Result<Self> {
        header_check(data, "floathistogram")?;
        Ok(Self { data })
    }

    pub fn num_samples(&self) -> usize {
        usize::from(u16::from_be_bytes([self.data[0], self.data[1]]))
    }

    pub fn counter_reset_header(&self) -> CounterResetHint {
        hint_from_header(self.data[2])
    }

    pub fn samples(&self) -> Result<Vec<(i64, FloatHistogram)>> {
        self.iter().collect()
    }

    /// Lazily decodes samples; stops after the first error.
    pub fn iter(&self) -> FloatHistogramIter<'a> {
        FloatHistogramIter {
            r: BitReader::new(&self.data[3..]),
            total: self.num_samples(),
            i: 0,
            header: self.counter_reset_header(),
            layout: None,
            np: 0,
            vals: Vec::new(),
            t: 0,
            td: 0,
            failed: false,
        }
    }
}

/// Iterator over a float histogram chunk (see [`HistogramIter`]).
#[derive(Debug)]
pub struct FloatHistogramIter<'a> {
    r: BitReader<'a>,
    total: usize,
    i: usize,
    header: CounterResetHint,
    layout: Option<Layout>,
    np: usize,
    /// (value bits, leading, trailing) for count, zero count, sum, buckets.
    vals: Vec<(u64, u8, u8)>,
    t: i64,
    td: i64,
    failed: bool,
}

impl FloatHistogramIter<'_> {
    fn step(&mut self) -> Result<(), Eof> {
        let r = &mut self.r;
        if self.i == 0 {
            self.t = read_varbit_int(r)?;
            for v in self.vals.iter_mut() {
                v.0 = r.read_bits(64)?;
            }
            return Ok(());
        }
        self.td = self.td.wrapping_add(read_varbit_int(r)?);
        self.t = self.t.wrapping_add(self.td);
        for (k, v) in self.vals.iter_mut().enumerate() {
            xor_read(r, &mut v.0, &mut v.1, &mut v.2)?;
            if k == 2 && is_stale(f64::from_bits(v.0)) {
                break;
            }
        }
        Ok(())
    }
}

impl Iterator for FloatHistogramIter<'_> {
    type Item = Result<(i64, FloatHistogram)>;

    fn next(&mut self) -> Option<Self::Item> {
        const ENC: &str = "floathistogram";
        if self.failed || self.i >= self.total {
            return None;
        }
        if self.layout.is_none() {
            let Ok(l) = read_layout(&mut self.r) else {
                self.failed = true;
                return Some(Err(derr(ENC, &self.r, "truncated or invalid bitstream")));
            };
            self.np = count_spans(&l.pos);
            self.vals = vec![(0, 0, 0); 3 + self.np + count_spans(&l.neg)];
            self.layout = Some(l);
        }
        if self.step().is_err() {
            self.failed = true;
            return Some(Err(derr(ENC, &self.r, "truncated or invalid bitstream")));
        }
        self.i += 1;
        let sum = f64::from_bits(self.vals[2].0);
        if is_stale(sum) {
            return Some(Ok((self.t, FloatHistogram::stale())));
        }
        let l = self.layout.as_ref()?;
        let f = |k: usize| f64::from_bits(self.vals[k].0);
        let n = self.vals.len();
        Some(Ok((
            self.t,
            FloatHistogram {
                counter_reset_hint: hint_for_sample(self.header, self.i),
                schema: l.schema,
                zero_threshold: l.zero_threshold,
                count: f(0),
                zero_count: f(1),
                sum,
                positive_spans: l.pos.clone(),
                negative_spans: l.neg.clone(),
                positive_buckets: (3..3 + self.np).map(f).collect(),
                negative_buckets: (3 + self.np..n).map(f).collect(),
                custom_values: l.custom.clone(),
            },
        )))
    }
}

fn new_chunk_writer(header: CounterResetHint) -> BitWriter {
    BitWriter::with_bytes(vec![0, 0, header_bits(header)])
}

fn bump_count(w: &mut BitWriter, num: &mut u16) {
    *num = num.wrapping_add(1);
    let b = num.to_be_bytes();
    let s = w.bytes_mut();
    s[0] = b[0];
    s[1] = b[1];
}

/// Schema, zero threshold, positive/negative spans, custom values.
type LayoutKey = (i32, f64, Vec<Span>, Vec<Span>, Vec<f64>);

/// Encodes integer histograms into one chunk. All non-stale samples must
/// share the first sample's layout (schema, zero threshold, spans, custom
/// values); otherwise [`HistogramEncoder::append`] refuses and the caller
/// cuts a new chunk.
#[derive(Debug, Clone)]
pub struct HistogramEncoder {
    w: BitWriter,
    num: u16,
    layout: Option<LayoutKey>,
    t: i64,
    cnt: u64,
    zcnt: u64,
    td: i64,
    cd: i64,
    zd: i64,
    pb: Vec<i64>,
    nb: Vec<i64>,
    pbd: Vec<i64>,
    nbd: Vec<i64>,
    sum: f64,
    leading: u8,
    trailing: u8,
    last_stale: bool,
}

impl HistogramEncoder {
    pub fn new(header: CounterResetHint) -> Self {
        Self {
            w: new_chunk_writer(header),
            num: 0,
            layout: None,
            t: 0,
            cnt: 0,
            zcnt: 0,
            td: 0,
            cd: 0,
            zd: 0,
            pb: Vec::new(),
            nb: Vec::new(),
            pbd: Vec::new(),
            nbd: Vec::new(),
            sum: 0.0,
            leading: 0xff,
            trailing: 0,
            last_stale: false,
        }
    }

    pub fn num_samples(&self) -> usize {
        usize::from(self.num)
    }

    pub fn size(&self) -> usize {
        self.w.bytes().len()
    }

    /// Whether `h` can be appended to this chunk.
    pub fn can_append(&self, h: &Histogram) -> bool {
        if is_stale(h.sum) {
            return true;
        }
        if self.last_stale {
            return false;
        }
        match &self.layout {
            None => true,
            Some((s, z, p, n, c)) => {
                *s == h.schema
                    && *z == h.zero_threshold
                    && *p == h.positive_spans
                    && *n == h.negative_spans
                    && *c == h.custom_values
            }
        }
    }

    pub fn append(&mut self, t: i64, h: &Histogram) -> Result<()> {
        if !self.can_append(h) {
            return Err(Error::EncodeChunk(
                "histogram layout differs from the chunk's; cut a new chunk".into(),
            ));
        }
        let stale_h;
        let h = if is_stale(h.sum) {
            stale_h = Histogram::stale();
            &stale_h
        } else {
            h
        };
        if h.positive_buckets.len() != count_spans(&h.positive_spans)
            || h.negative_buckets.len() != count_spans(&h.negative_spans)
        {
            return Err(Error::EncodeChunk(
                "bucket count does not match spans".into(),
            ));
        }
        let (mut td, mut cd, mut zd) = (0i64, 0i64, 0i64);
        if self.num == 0 {
            write_layout(
                &mut self.w,
                &Layout {
                    schema: h.schema,
                    zero_threshold: h.zero_threshold,
                    pos: h.positive_spans.clone(),
                    neg: h.negative_spans.clone(),
                    custom: h.custom_values.clone(),
                },
            );
            if !is_stale(h.sum) {
                self.layout = Some((
                    h.schema,
                    h.zero_threshold,
                    h.positive_spans.clone(),
                    h.negative_spans.clone(),
                    h.custom_values.clone(),
                ));
            }
            let (np, nn) = (
                count_spans(&h.positive_spans),
                count_spans(&h.negative_spans),
            );
            self.pb = vec![0; np];
            self.nb = vec![0; nn];
            self.pbd = vec![0; np];
            self.nbd = vec![0; nn];
            put_varbit_int(&mut self.w, t);
            put_varbit_uint(&mut self.w, h.count);
            put_varbit_uint(&mut self.w, h.zero_count);
            self.w.write_bits(h.sum.to_bits(), 64);
            for &b in h.positive_buckets.iter().chain(&h.negative_buckets) {
                put_varbit_int(&mut self.w, b);
            }
        } else {
            td = t.wrapping_sub(self.t);
            cd = (h.count as i64).wrapping_sub(self.cnt as i64);
            zd = (h.zero_count as i64).wrapping_sub(self.zcnt as i64);
            let mut cdod = cd.wrapping_sub(self.cd);
            let mut zdod = zd.wrapping_sub(self.zd);
            if is_stale(h.sum) {
                cdod = 0;
                zdod = 0;
            }
            put_varbit_int(&mut self.w, td.wrapping_sub(self.td));
            put_varbit_int(&mut self.w, cdod);
            put_varbit_int(&mut self.w, zdod);
            xor_write(
                &mut self.w,
                h.sum.to_bits(),
                self.sum.to_bits(),
                &mut self.leading,
                &mut self.trailing,
            );
            for (i, &b) in h.positive_buckets.iter().enumerate() {
                let delta = b.wrapping_sub(self.pb[i]);
                put_varbit_int(&mut self.w, delta.wrapping_sub(self.pbd[i]));
                self.pbd[i] = delta;
            }
            for (i, &b) in h.negative_buckets.iter().enumerate() {
                let delta = b.wrapping_sub(self.nb[i]);
                put_varbit_int(&mut self.w, delta.wrapping_sub(self.nbd[i]));
                self.nbd[i] = delta;
            }
        }
        bump_count(&mut self.w, &mut self.num);
        self.t = t;
        self.cnt = h.count;
        self.zcnt = h.zero_count;
        self.td = td;
        self.cd = cd;
        self.zd = zd;
        self.pb[..h.positive_buckets.len()].copy_from_slice(&h.positive_buckets);
        self.nb[..h.negative_buckets.len()].copy_from_slice(&h.negative_buckets);
        self.sum = h.sum;
        self.last_stale = is_stale(h.sum);
        Ok(())
    }

    pub fn bytes(&self) -> &[u8] {
        self.w.bytes()
    }

    pub fn finish(self) -> Vec<u8> {
        self.w.into_bytes()
    }
}

/// Encodes float histograms into one chunk (same layout rule as
/// [`HistogramEncoder`]).
#[derive(Debug, Clone)]
pub struct FloatHistogramEncoder {
    w: BitWriter,
    num: u16,
    layout: Option<LayoutKey>,
    t: i64,
    td: i64,
    /// (value, leading, trailing) for count, zero count, sum, buckets.
    vals: Vec<(f64, u8, u8)>,
    last_stale: bool,
}

impl FloatHistogramEncoder {
    pub fn new(header: CounterResetHint) -> Self {
        Self {
            w: new_chunk_writer(header),
            num: 0,
            layout: None,
            t: 0,
            td: 0,
            vals: Vec::new(),
            last_stale: false,
        }
    }

    pub fn num_samples(&self) -> usize {
        usize::from(self.num)
    }

    pub fn size(&self) -> usize {
        self.w.bytes().len()
    }

    pub fn can_append(&self, h: &FloatHistogram) -> bool {
        if is_stale(h.sum) {
            return true;
        }
        if self.last_stale {
            return false;
        }
        match &self.layout {
            None => true,
            Some((s, z, p, n, c)) => {
                *s == h.schema
                    && *z == h.zero_threshold
                    && *p == h.positive_spans
                    && *n == h.negative_spans
                    && *c == h.custom_values
            }
        }
    }

    pub fn append(&mut self, t: i64, h: &FloatHistogram) -> Result<()> {
        if !self.can_append(h) {
            return Err(Error::EncodeChunk(
                "histogram layout differs from the chunk's; cut a new chunk".into(),
            ));
        }
        let stale_h;
        let h = if is_stale(h.sum) {
            stale_h = FloatHistogram::stale();
            &stale_h
        } else {
            h
        };
        if h.positive_buckets.len() != count_spans(&h.positive_spans)
            || h.negative_buckets.len() != count_spans(&h.negative_spans)
        {
            return Err(Error::EncodeChunk(
                "bucket count does not match spans".into(),
            ));
        }
        let mut td = 0;
        let fields = [h.count, h.zero_count, h.sum];
        if self.num == 0 {
            write_layout(
                &mut self.w,
                &Layout {
                    schema: h.schema,
                    zero_threshold: h.zero_threshold,
                    pos: h.positive_spans.clone(),
                    neg: h.negative_spans.clone(),
                    custom: h.custom_values.clone(),
                },
            );
            if !is_stale(h.sum) {
                self.layout = Some((
                    h.schema,
                    h.zero_threshold,
                    h.positive_spans.clone(),
                    h.negative_spans.clone(),
                    h.custom_values.clone(),
                ));
            }
            put_varbit_int(&mut self.w, t);
            self.vals.clear();
            for &v in fields
                .iter()
                .chain(&h.positive_buckets)
                .chain(&h.negative_buckets)
            {
                self.w.write_bits(v.to_bits(), 64);
                self.vals.push((v, 0xff, 0));
            }
        } else {
            td = t.wrapping_sub(self.t);
            put_varbit_int(&mut self.w, td.wrapping_sub(self.td));
            for (k, &v) in fields
                .iter()
                .chain(&h.positive_buckets)
                .chain(&h.negative_buckets)
                .enumerate()
            {
                let Some(old) = self.vals.get_mut(k) else {
                    return Err(Error::EncodeChunk(
                        "more buckets than the chunk layout".into(),
                    ));
                };
                xor_write(
                    &mut self.w,
                    v.to_bits(),
                    old.0.to_bits(),
                    &mut old.1,
                    &mut old.2,
                );
                old.0 = v;
            }
        }
        bump_count(&mut self.w, &mut self.num);
        self.t = t;
        self.td = td;
        self.last_stale = is_stale(h.sum);
        Ok(())
    }

    pub fn bytes(&self) -> &[u8] {
        self.w.bytes()
    }

    pub fn finish(self) -> Vec<u8> {
        self.w.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn spans() -> impl Strategy<Value = Vec<Span>> {
        proptest::collection::vec(
            (-5i32..5, 0u32..4).prop_map(|(offset, length)| Span { offset, length }),
            0..4,
        )
    }

    fn layout() -> impl Strategy<Value = (i32, f64, Vec<Span>, Vec<Span>, Vec<f64>)> {
        (
            prop_oneof![-4i32..=8, Just(CUSTOM_BUCKETS_SCHEMA)],
            prop_oneof![Just(0.0), Just(2f64.powi(-128)), Just(0.001), Just(1024.0)],
            spans(),
            spans(),
            proptest::collection::vec(
                prop_oneof![
                    Just(0.5),
                    Just(1.0),
                    Just(-3.25),
                    Just(33554.43),
                    any::<f64>()
                ],
                0..4,
            ),
        )
    }

    proptest! {
        #[test]
        fn histogram_round_trip(l in layout(), n in 1usize..40, seed in any::<u64>(), stale_at in proptest::option::of(0usize..40)) {
            let (schema, zt, pos, neg, custom) = l;
            let custom = if schema == CUSTOM_BUCKETS_SCHEMA { custom } else { vec![] };
            let (np, nn) = (count_spans(&pos), count_spans(&neg));
            let mut e = HistogramEncoder::new(CounterResetHint::NotCounterReset);
            let mut want = Vec::new();
            let mut x = seed | 1;
            let mut rnd = || { x ^= x << 13; x ^= x >> 7; x ^= x << 17; x };
            let mut t = (rnd() % 1_000_000) as i64;
            for i in 0..n {
                t += (rnd() % 100_000) as i64;
                let h = if Some(i) == stale_at.filter(|&s| s > 0) && i == n - 1 {
                    Histogram::stale()
                } else {
                    Histogram {
                        counter_reset_hint: if i == 0 { CounterResetHint::Unknown } else { CounterResetHint::NotCounterReset },
                        schema, zero_threshold: zt,
                        zero_count: rnd() % 1000, count: rnd() % 100_000,
                        sum: f64::from_bits(rnd()),
                        positive_spans: pos.clone(), negative_spans: neg.clone(),
                        positive_buckets: (0..np).map(|_| (rnd() % 2000) as i64 - 1000).collect(),
                        negative_buckets: (0..nn).map(|_| (rnd() % 2000) as i64 - 1000).collect(),
                        custom_values: custom.clone(),
                    }
                };
                e.append(t, &h).unwrap();
                want.push((t, h));
            }
            let b = e.finish();
            let got = HistogramChunk::new(&b).unwrap().samples().unwrap();
            prop_assert_eq!(got.len(), want.len());
            for ((gt, g), (wt, w)) in got.iter().zip(&want) {
                prop_assert_eq!(gt, wt);
                prop_assert_eq!(g.sum.to_bits(), w.sum.to_bits());
                if !is_stale(w.sum) {
                    let mut g2 = g.clone(); let mut w2 = w.clone();
                    g2.sum = 0.0; w2.sum = 0.0;
                    g2.custom_values = g2.custom_values.iter().map(|v| if v.is_nan() { 0.0 } else { *v }).collect();
                    w2.custom_values = w2.custom_values.iter().map(|v| if v.is_nan() { 0.0 } else { *v }).collect();
                    prop_assert_eq!(g2, w2);
                }
            }
            // Float histogram encoding of the same data.
            let mut fe = FloatHistogramEncoder::new(CounterResetHint::Gauge);
            for (t, h) in &want { fe.append(*t, &h.to_float()).unwrap(); }
            let fb = fe.finish();
            let fgot = FloatHistogramChunk::new(&fb).unwrap().samples().unwrap();
            prop_assert_eq!(fgot.len(), want.len());
            for ((gt, g), (wt, w)) in fgot.iter().zip(&want) {
                prop_assert_eq!(gt, wt);
                let w = w.to_float();
                prop_assert_eq!(g.sum.to_bits(), w.sum.to_bits());
                if !is_stale(w.sum) {
                    prop_assert_eq!(g.counter_reset_hint, CounterResetHint::Gauge);
                    prop_assert_eq!(&g.positive_buckets, &w.positive_buckets);
                    prop_assert_eq!(&g.negative_buckets, &w.negative_buckets);
                    prop_assert_eq!(g.count, w.count);
                }
            }
        }
    }

    #[test]
    fn zero_threshold_encoding_like_prometheus() {
        let mut w = BitWriter::new();
        put_zero_threshold(&mut w, 2f64.powi(-128));
        assert_eq!(w.bytes(), [116]);
        let mut w = BitWriter::new();
        put_zero_threshold(&mut w, 0.001);
        assert_eq!(w.bytes().len(), 9);
    }

    #[test]
    fn layout_mismatch_and_truncation_are_errors() {
        let h = Histogram {
            schema: 0,
            count: 1,
            positive_spans: vec![Span {
                offset: 0,
                length: 1,
            }],
            positive_buckets: vec![1],
            ..Default::default()
        };
        let mut e = HistogramEncoder::new(CounterResetHint::Unknown);
        e.append(1, &h).unwrap();
        e.append(2, &h).unwrap();
        let mut h2 = h.clone();
        h2.schema = 1;
        assert!(e.append(3, &h2).is_err());
        let b = e.finish();
        for cut in 0..b.len() - 1 {
            assert!(
                HistogramChunk::new(&b[..cut])
                    .and_then(|c| c.samples())
                    .is_err(),
                "cut {cut}"
            );
        }
    }
}
