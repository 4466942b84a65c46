//! `meta.json`: Prometheus `BlockMeta` plus the Thanos `thanos` section.
//! Unknown fields are preserved on a read → write round trip; writing uses
//! Go's `json.MarshalIndent(v, "", "\t")` layout and HTML escaping.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};
use ulid::Ulid;

use crate::{Error, Result};

/// File name of the block meta file.
pub const META_FILENAME: &str = "meta.json";

fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}

fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}

fn is_false(v: &bool) -> bool {
    !*v
}

/// The whole `meta.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockMeta {
    #[serde(with = "ulid_str")]
    pub ulid: Ulid,
    #[serde(rename = "minTime")]
    pub min_time: i64,
    #[serde(rename = "maxTime")]
    pub max_time: i64,
    #[serde(default)]
    pub stats: BlockStats,
    #[serde(default)]
    pub compaction: BlockMetaCompaction,
    pub version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thanos: Option<ThanosMeta>,
    /// Fields we do not model, kept as-is.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockStats {
    #[serde(rename = "numSamples", default, skip_serializing_if = "is_zero_u64")]
    pub num_samples: u64,
    #[serde(
        rename = "numFloatSamples",
        default,
        skip_serializing_if = "is_zero_u64"
    )]
    pub num_float_samples: u64,
    #[serde(
        rename = "numHistogramSamples",
        default,
        skip_serializing_if = "is_zero_u64"
    )]
    pub num_histogram_samples: u64,
    #[serde(rename = "numSeries", default, skip_serializing_if = "is_zero_u64")]
    pub num_series: u64,
    #[serde(rename = "numChunks", default, skip_serializing_if = "is_zero_u64")]
    pub num_chunks: u64,
    #[serde(rename = "numTombstones", default, skip_serializing_if = "is_zero_u64")]
    pub num_tombstones: u64,
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BlockMetaCompaction {
    #[serde(default)]
    pub level: i32,
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "ulid_vec")]
    pub sources: Vec<Ulid>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub deletable: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parents: Vec<BlockDesc>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub failed: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hints: Vec<String>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockDesc {
    #[serde(with = "ulid_str")]
    pub ulid: Ulid,
    #[serde(rename = "minTime")]
    pub min_time: i64,
    #[serde(rename = "maxTime")]
    pub max_time: i64,
}

/// The `thanos` section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ThanosMeta {
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub version: u32,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub downsample: ThanosDownsample,
    #[serde(default)]
    pub source: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub segment_files: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<ThanosFile>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rewrites: Vec<serde_json::Value>,
    #[serde(default)]
    pub index_stats: IndexStats,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extensions: Option<serde_json::Value>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

fn is_zero_u32(v: &u32) -> bool {
    *v == 0
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThanosDownsample {
    #[serde(default)]
    pub resolution: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThanosFile {
    pub rel_path: String,
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub size_bytes: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<ObjectHash>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectHash {
    #[serde(rename = "hashFunc")]
    pub func: String,
    pub value: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexStats {
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub series_max_size: i64,
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub chunk_max_size: i64,
}

impl ThanosMeta {
    /// A version-1 Thanos section with external labels and a source.
    pub fn new(labels: BTreeMap<String, String>, source: impl Into<String>) -> Self {
        Self {
            version: 1,
            labels,
            source: source.into(),
            ..Default::default()
        }
    }
}

/// The files of a block directory as Thanos lists them in `thanos.files`:
/// relative paths sorted, with sizes (`meta.json` without a size, as Thanos
/// writes it). Temporary and marker files are skipped.
pub fn block_files(dir: &Path) -> Result<Vec<ThanosFile>> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<ThanosFile>) -> Result<()> {
        let rd = std::fs::read_dir(dir).map_err(|source| Error::Read {
            file: dir.display().to_string(),
            offset: 0,
            source,
        })?;
        for e in rd {
            let e = e.map_err(|source| Error::Read {
                file: dir.display().to_string(),
                offset: 0,
                source,
            })?;
            let p = e.path();
            let md = e.metadata().map_err(|source| Error::Read {
                file: p.display().to_string(),
                offset: 0,
                source,
            })?;
            if md.is_dir() {
                walk(root, &p, out)?;
                continue;
            }
            let rel = p
                .strip_prefix(root)
                .unwrap_or(&p)
                .to_string_lossy()
                .replace(std::path::MAIN_SEPARATOR, "/");
            if rel.ends_with(".tmp") || rel.ends_with("-mark.json") {
                continue;
            }
            let size_bytes = if rel == META_FILENAME {
                0
            } else {
                md.len() as i64
            };
            out.push(ThanosFile {
                rel_path: rel,
                size_bytes,
                hash: None,
            });
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
    out.sort_by(|a, b| a.rel_path.cmp(&b.rel_path));
    Ok(out)
}

mod ulid_str {
    use serde::{Deserialize, Deserializer, Serializer};
    use ulid::Ulid;

    pub(super) fn serialize<S: Serializer>(u: &Ulid, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&u.to_string())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Ulid, D::Error> {
        let s = String::deserialize(d)?;
        Ulid::from_string(&s)
            .map_err(|e| serde::de::Error::custom(format!("invalid ulid {s:?}: {e}")))
    }
}

mod ulid_vec {
    use serde::{Deserialize, Deserializer, Serializer};
    use ulid::Ulid;

    pub(super) fn serialize<S: Serializer>(v: &[Ulid], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|u| u.to_string()))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Ulid>, D::Error> {
        let v = Option::<Vec<String>>::deserialize(d)?.unwrap_or_default();
        v.iter()
            .map(|s| {
                Ulid::from_string(s)
                    .map_err(|e| serde::de::Error::custom(format!("invalid ulid {s:?}: {e}")))
            })
            .collect()
    }
}

/// serde_json formatter reproducing Go's `json.MarshalIndent(v, "", "\t")`:
/// tab indentation and `<`, `>`, `&`, U+2028, U+2029 escaped.
struct GoFormatter {
    inner: serde_json::ser::PrettyFormatter<'static>,
}

impl serde_json::ser::Formatter for GoFormatter {
    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.inner.begin_array(w)
    }
    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.inner.end_array(w)
    }
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.inner.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.inner.end_array_value(w)
    }
    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.inner.begin_object(w)
    }
    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.inner.end_object(w)
    }
    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.inner.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.inner.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.inner.end_object_value(w)
    }
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut last = 0;
        for (i, c) in fragment.char_indices() {
            let esc = match c {
                '<' => "\\u003c",
                '>' => "\\u003e",
                '&' => "\\u0026",
                '\u{2028}' => "\\u2028",
                '\u{2029}' => "\\u2029",
                _ => continue,
            };
            w.write_all(&fragment.as_bytes()[last..i])?;
            w.write_all(esc.as_bytes())?;
            last = i + c.len_utf8();
        }
        w.write_all(&fragment.as_bytes()[last..])
    }
}

impl BlockMeta {
    /// A fresh level-1 meta for a new block.
    pub fn new(ulid: Ulid, min_time: i64, max_time: i64) -> Self {
        Self {
            ulid,
            min_time,
            max_time,
            stats: BlockStats::default(),
            compaction: BlockMetaCompaction {
                level: 1,
                sources: vec![ulid],
                ..Default::default()
            },
            version: 1,
            thanos: None,
            extra: BTreeMap::new(),
        }
    }

    /// Parses and validates (`version` must be 1, thanos version 0 or 1).
    pub fn parse(data: &[u8], file: &str) -> Result<Self> {
        let m: BlockMeta = serde_json::from_slice(data).map_err(|source| Error::ParseMeta {
            file: file.to_string(),
            source,
        })?;
        if m.version != 1 {
            return Err(Error::InvalidMeta {
                file: file.into(),
                reason: format!("unexpected meta version {}", m.version),
            });
        }
        if let Some(t) = &m.thanos
            && t.version > 1
        {
            return Err(Error::InvalidMeta {
                file: file.into(),
                reason: format!("unexpected thanos meta version {}", t.version),
            });
        }
        Ok(m)
    }

    /// Reads `<dir>/meta.json`.
    pub fn read_from_dir(dir: &Path) -> Result<Self> {
        let p = dir.join(META_FILENAME);
        let file = p.display().to_string();
        let data = std::fs::read(&p).map_err(|source| Error::Read {
            file: file.clone(),
            offset: 0,
            source,
        })?;
        Self::parse(&data, &file)
    }

    /// Serializes exactly like Go's `json.MarshalIndent(meta, "", "\t")`.
    pub fn to_json(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        let fmt = GoFormatter {
            inner: serde_json::ser::PrettyFormatter::with_indent(b"\t"),
        };
        let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
        self.serialize(&mut ser)
            .map_err(|e| Error::Invalid(format!("serialize meta.json: {e}")))?;
        Ok(out)
    }

    /// Writes `<dir>/meta.json` atomically (tmp file, fsync, rename, fsync dir).
    pub fn write_to_dir(&self, dir: &Path) -> Result<()> {
        let data = self.to_json()?;
        let p = dir.join(META_FILENAME);
        let tmp = dir.join(format!("{META_FILENAME}.tmp"));
        {
            let mut f = std::fs::File::create(&tmp).map_err(|e| Error::write(&tmp, e))?;
            f.write_all(&data).map_err(|e| Error::write(&tmp, e))?;
            f.sync_all().map_err(|e| Error::write(&tmp, e))?;
        }
        std::fs::rename(&tmp, &p).map_err(|e| Error::write(&p, e))?;
        crate::fsutil::sync_dir(dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROMTOOL_META: &str = "{\n\t\"ulid\": \"01M8AG9YXX2XQR2HNHMVF1XE07\",\n\t\"minTime\": 1700000000000,\n\t\"maxTime\": 1700000030001,\n\t\"stats\": {\n\t\t\"numSamples\": 8,\n\t\t\"numSeries\": 3,\n\t\t\"numChunks\": 3\n\t},\n\t\"compaction\": {\n\t\t\"level\": 1,\n\t\t\"sources\": [\n\t\t\t\"01M8AG9YXX2XQR2HNHMVF1XE07\"\n\t\t]\n\t},\n\t\"version\": 1\n}";

    #[test]
    fn promtool_meta_round_trips_byte_for_byte() {
        let m = BlockMeta::parse(PROMTOOL_META.as_bytes(), "meta.json").unwrap();
        assert_eq!(m.stats.num_samples, 8);
        assert_eq!(m.compaction.sources, vec![m.ulid]);
        assert_eq!(
            String::from_utf8(m.to_json().unwrap()).unwrap(),
            PROMTOOL_META
        );
    }

    #[test]
    fn thanos_section_and_unknown_fields_are_preserved() {
        let src = r#"{"ulid":"01M8AG9YXX2XQR2HNHMVF1XE07","minTime":1,"maxTime":2,"stats":{},"compaction":{"level":2,"future":[1]},"version":1,
            "thanos":{"labels":{"b":"<2>","a":"1"},"downsample":{"resolution":300000},"source":"sidecar",
            "files":[{"rel_path":"chunks/000001","size_bytes":10},{"rel_path":"meta.json"}],"index_stats":{"series_max_size":5},"upload_time":"2026-01-01T00:00:00Z"},
            "zzz":true}"#;
        let m = BlockMeta::parse(src.as_bytes(), "x/meta.json").unwrap();
        let t = m.thanos.as_ref().unwrap();
        assert_eq!(t.downsample.resolution, 300000);
        assert_eq!(t.labels["b"], "<2>");
        assert_eq!(t.files.len(), 2);
        let out = String::from_utf8(m.to_json().unwrap()).unwrap();
        assert!(
            out.contains("\"upload_time\": \"2026-01-01T00:00:00Z\""),
            "{out}"
        );
        assert!(out.contains("\"zzz\": true"));
        assert!(out.contains("\"future\": ["));
        assert!(out.contains("\\u003c2\\u003e"), "{out}");
        assert!(out.find("\"a\"").unwrap() < out.find("\"b\"").unwrap());
        let again = BlockMeta::parse(out.as_bytes(), "x").unwrap();
        assert_eq!(again, m);
    }

    #[test]
    fn bad_json_and_versions_are_typed_errors() {
        let e = BlockMeta::parse(b"{\"ulid\": ", "blk/meta.json").unwrap_err();
        assert!(matches!(e, Error::ParseMeta { .. }));
        assert!(e.to_string().contains("blk/meta.json"));
        let e = BlockMeta::parse(
            br#"{"ulid":"01M8AG9YXX2XQR2HNHMVF1XE07","minTime":1,"maxTime":2,"version":2}"#,
            "m",
        )
        .unwrap_err();
        assert!(matches!(e, Error::InvalidMeta { .. }), "{e}");
        let e = BlockMeta::parse(
            br#"{"ulid":"nope","minTime":1,"maxTime":2,"version":1}"#,
            "m",
        )
        .unwrap_err();
        assert!(matches!(e, Error::ParseMeta { .. }), "{e}");
    }

    #[test]
    fn block_files_are_listed_like_thanos() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("chunks")).unwrap();
        std::fs::write(d.path().join("chunks/000001"), b"12345").unwrap();
        std::fs::write(d.path().join("index"), b"123").unwrap();
        std::fs::write(d.path().join("meta.json"), b"{}").unwrap();
        std::fs::write(d.path().join("deletion-mark.json"), b"{}").unwrap();
        let f = block_files(d.path()).unwrap();
        let names: Vec<(&str, i64)> = f
            .iter()
            .map(|f| (f.rel_path.as_str(), f.size_bytes))
            .collect();
        assert_eq!(
            names,
            vec![("chunks/000001", 5), ("index", 3), ("meta.json", 0)]
        );
        let t = ThanosMeta::new([("a".to_string(), "b".to_string())].into(), "sidecar");
        assert_eq!(t.version, 1);
    }

    #[test]
    fn write_is_atomic_and_readable() {
        let d = tempfile::tempdir().unwrap();
        let mut m = BlockMeta::new(Ulid::new(), 0, 10);
        m.thanos = Some(ThanosMeta {
            labels: [("a".into(), "b".into())].into(),
            source: "test".into(),
            ..Default::default()
        });
        m.write_to_dir(d.path()).unwrap();
        assert_eq!(BlockMeta::read_from_dir(d.path()).unwrap(), m);
        assert!(!d.path().join("meta.json.tmp").exists());
    }
}
