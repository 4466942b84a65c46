//! Layered settings for a service: defaults ← YAML config file ← `AEON_*`
//! environment ← command-line flags, resolved with figment.
//!
//! A service's `Args` is one clap struct that also derives serde. Each layer
//! may set any flag: the config file by the flag's long name (`http-address`,
//! `log.level`) or its field name (`http_address`), the environment as
//! `AEON_<FIELD>` (`AEON_HTTP_ADDRESS`). Only flags actually typed on the
//! command line override the layers below them. Unknown keys in the config
//! file are an error naming the file and the key.

use std::collections::BTreeMap;
use std::path::Path;

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Error, Result};

/// Prefix of environment variables that set flags.
pub const ENV_PREFIX: &str = "AEON_";

/// One named layer of already-parsed values.
struct Layer {
    name: String,
    dict: Dict,
}

impl Provider for Layer {
    fn metadata(&self) -> Metadata {
        Metadata::named(self.name.clone())
    }
    fn data(&self) -> figment::Result<Map<Profile, Dict>> {
        Ok(Profile::Default.collect(self.dict.clone()))
    }
}

/// Name of the flag (and field) that points at the YAML config file.
pub const CONFIG_FILE_ID: &str = "config_file";

/// Resolves `T` from already-parsed matches (a command's or a
/// subcommand's). The config file comes from `T`'s `--config-file` flag (a
/// field named `config_file`) or else from `AEON_CONFIG_FILE`.
pub fn from_matches<T>(matches: &ArgMatches) -> Result<T>
where
    T: CommandFactory + FromArgMatches + Serialize + DeserializeOwned,
{
    let from_flag = matches
        .try_get_one::<std::path::PathBuf>(CONFIG_FILE_ID)
        .ok()
        .flatten()
        .cloned();
    let file = from_flag.or_else(|| std::env::var_os("AEON_CONFIG_FILE").map(Into::into));
    load(matches, file.as_deref())
}

/// Resolves `T` from the four layers. `matches` are the parsed command line
/// of `T`'s command; `config_file` is the optional YAML file.
pub fn load<T>(matches: &ArgMatches, config_file: Option<&Path>) -> Result<T>
where
    T: CommandFactory + FromArgMatches + Serialize + DeserializeOwned,
{
    load_with_env(matches, config_file, std::env::vars())
}

/// [`load`] with an explicit environment (for tests).
pub fn load_with_env<T>(
    matches: &ArgMatches,
    config_file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<T>
where
    T: CommandFactory + FromArgMatches + Serialize + DeserializeOwned,
{
    let cmd = T::command();
    // field id -> accepted spellings
    let mut aliases: BTreeMap<String, String> = BTreeMap::new();
    for arg in cmd.get_arguments() {
        let id = arg.get_id().as_str().to_string();
        if let Some(long) = arg.get_long() {
            aliases.insert(long.to_string(), id.clone());
        }
        aliases.insert(id.clone(), id);
    }
    let cfg_err = |e: figment::Error| Error::Config(Box::new(e));

    let defaults_matches = cmd
        .clone()
        .ignore_errors(true)
        .try_get_matches_from([cmd.get_name()])
        .map_err(|e| Error::Config(Box::new(figment::Error::from(e.to_string()))))?;
    let defaults = T::from_arg_matches(&defaults_matches)
        .map_err(|e| Error::Config(Box::new(figment::Error::from(e.to_string()))))?;
    let parsed = T::from_arg_matches(matches)
        .map_err(|e| Error::Config(Box::new(figment::Error::from(e.to_string()))))?;

    let mut fig = Figment::new().merge(Layer {
        name: "defaults".into(),
        dict: to_dict(&defaults)?,
    });

    if let Some(path) = config_file {
        let text = std::fs::read_to_string(path).map_err(|source| Error::ReadFile {
            what: "config file".into(),
            path: path.to_path_buf(),
            source,
        })?;
        let origin = format!("config file {}", path.display());
        let raw: BTreeMap<String, Value> = if text.trim().is_empty() {
            BTreeMap::new()
        } else {
            serde_yaml_ng::from_str(&text).map_err(|source| Error::Yaml {
                what: "config",
                origin: origin.clone(),
                source,
            })?
        };
        let mut dict = Dict::new();
        for (k, v) in raw {
            let Some(id) = aliases.get(&k) else {
                return Err(cfg_err(figment::Error::from(format!(
                    "unknown key {k:?} in {origin}: expected one of the flags of `{}`",
                    cmd.get_name()
                ))));
            };
            dict.insert(id.clone(), v);
        }
        fig = fig.merge(Layer { name: origin, dict });
    }

    let ids: Vec<String> = aliases.values().cloned().collect();
    let mut env_dict = Dict::new();
    for (k, v) in env {
        let Some(field) = k.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let field = field.to_ascii_lowercase();
        if ids.contains(&field) {
            env_dict.insert(field, v.parse::<Value>().unwrap_or(Value::from(v)));
        }
    }
    if !env_dict.is_empty() {
        let names: Vec<String> = env_dict
            .keys()
            .map(|k| format!("{ENV_PREFIX}{}", k.to_ascii_uppercase()))
            .collect();
        fig = fig.merge(Layer {
            name: format!("environment ({})", names.join(", ")),
            dict: env_dict,
        });
    }

    let mut cli = to_dict(&parsed)?;
    cli.retain(|k, _| matches!(matches.value_source(k), Some(ValueSource::CommandLine)));
    fig = fig.merge(Layer {
        name: "command-line flags".into(),
        dict: cli,
    });

    fig.extract().map_err(cfg_err)
}

/// The ids (field names) of `args`'s flags whose value differs from the
/// default of `T`'s command: what the config file, the environment or the
/// command line changed.
pub fn changed_from_default<T>(args: &T) -> Result<Vec<String>>
where
    T: CommandFactory + FromArgMatches + Serialize,
{
    let cmd = T::command();
    let defaults_matches = cmd
        .clone()
        .ignore_errors(true)
        .try_get_matches_from([cmd.get_name()])
        .map_err(|e| Error::Config(Box::new(figment::Error::from(e.to_string()))))?;
    let defaults = T::from_arg_matches(&defaults_matches)
        .map_err(|e| Error::Config(Box::new(figment::Error::from(e.to_string()))))?;
    let (now, before) = (to_dict(args)?, to_dict(&defaults)?);
    Ok(now
        .into_iter()
        .filter(|(k, v)| before.get(k) != Some(v))
        .map(|(k, _)| k)
        .collect())
}

fn to_dict<T: Serialize>(v: &T) -> Result<Dict> {
    let value = Value::serialize(v).map_err(|e| Error::Config(Box::new(e)))?;
    value.into_dict().ok_or_else(|| {
        Error::Config(Box::new(figment::Error::from(
            "settings must serialize to a map".to_string(),
        )))
    })
}

/// Replaces every `$(NAME)` in `text` with the environment variable `NAME`
/// (letters, digits and `_`), as Thanos's `extflag.PathOrContent` does with
/// environment substitution (the Kubernetes convention). An unset variable is
/// an error naming `origin` and the variable; `$NAME` and `${NAME}` are left
/// alone.
pub fn expand_env(text: &str, origin: &str) -> Result<String> {
    expand_env_with(text, origin, |name| std::env::var(name).ok())
}

/// [`expand_env`] with an explicit lookup (for tests).
pub fn expand_env_with(
    text: &str,
    origin: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("$(") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let name_len = after
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
            .count();
        if name_len == 0 || after.as_bytes().get(name_len) != Some(&b')') {
            out.push_str("$(");
            rest = after;
            continue;
        }
        let name = &after[..name_len];
        let value = lookup(name).ok_or_else(|| Error::UnsetVariable {
            origin: origin.to_string(),
            var: name.to_string(),
        })?;
        out.push_str(&value);
        rest = &after[name_len + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Reads a YAML document given inline (`--x.config`) or as a file
/// (`--x.config-file`), as Thanos's paired flags do, and expands `$(VAR)`
/// references with [`expand_env`]. Returns the text and a description of
/// where it came from for error messages.
pub fn inline_or_file(
    inline: Option<&str>,
    file: Option<&Path>,
    inline_flag: &'static str,
    file_flag: &'static str,
) -> Result<Option<(String, String)>> {
    match (inline, file) {
        (Some(_), Some(_)) => Err(Error::ConflictingFlags {
            inline: inline_flag,
            file: file_flag,
        }),
        (Some(text), None) => {
            let origin = format!("--{inline_flag}");
            Ok(Some((expand_env(text, &origin)?, origin)))
        }
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path).map_err(|source| Error::ReadFile {
                what: format!("--{file_flag}"),
                path: path.to_path_buf(),
                source,
            })?;
            let origin = format!("file {}", path.display());
            Ok(Some((expand_env(&text, &origin)?, origin)))
        }
        (None, None) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ChainExt as _;
    use crate::flags::ByteSize;
    use crate::telemetry::LogLevel;
    use clap::Parser;
    use serde::Deserialize;

    #[derive(Debug, Parser, Serialize, Deserialize)]
    #[command(name = "svc")]
    struct Args {
        #[arg(long = "http-address", default_value = "0.0.0.0:10902")]
        http_address: String,
        #[arg(long = "index-cache-size", default_value = "250MB")]
        index_cache_size: ByteSize,
        #[arg(long = "block-sync-concurrency", default_value_t = 20)]
        block_sync_concurrency: u32,
        #[command(flatten)]
        #[serde(flatten)]
        telemetry: crate::telemetry::TelemetryArgs,
        #[arg(long = "config-file")]
        config_file: Option<std::path::PathBuf>,
    }

    fn run(argv: &[&str], file: Option<&str>, env: &[(&str, &str)]) -> Result<Args> {
        let m = Args::command().try_get_matches_from(argv).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("aeon.yaml");
        if let Some(f) = file {
            std::fs::write(&path, f).unwrap();
        }
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        load_with_env(&m, file.map(|_| path.as_path()), env)
    }

    #[test]
    fn defaults_alone() {
        let a = run(&["svc"], None, &[]).unwrap();
        assert_eq!(a.http_address, "0.0.0.0:10902");
        assert_eq!(a.index_cache_size, ByteSize(250 << 20));
        assert_eq!(a.block_sync_concurrency, 20);
    }

    #[test]
    fn precedence_file_then_env_then_flags() {
        let file = "http-address: file:1\nlog.level: debug\nindex_cache_size: 1GB\nblock-sync-concurrency: 3\n";
        let a = run(&["svc"], Some(file), &[]).unwrap();
        assert_eq!(
            (a.http_address.as_str(), a.telemetry.log_level),
            ("file:1", LogLevel::Debug)
        );
        assert_eq!(
            (a.index_cache_size, a.block_sync_concurrency),
            (ByteSize(1 << 30), 3)
        );

        let env = [
            ("AEON_HTTP_ADDRESS", "env:2"),
            ("AEON_BLOCK_SYNC_CONCURRENCY", "7"),
            ("AEON_OTHER", "x"),
        ];
        let a = run(&["svc"], Some(file), &env).unwrap();
        assert_eq!(
            (a.http_address.as_str(), a.telemetry.log_level),
            ("env:2", LogLevel::Debug)
        );
        assert_eq!(a.block_sync_concurrency, 7);

        let a = run(&["svc", "--http-address=flag:3"], Some(file), &env).unwrap();
        assert_eq!(a.http_address, "flag:3");
        assert_eq!(
            a.block_sync_concurrency, 7,
            "untyped flags keep lower layers"
        );
        // A flag typed with its default value still wins over the layers below.
        let a = run(&["svc", "--block-sync-concurrency=20"], Some(file), &env).unwrap();
        assert_eq!(a.block_sync_concurrency, 20);
    }

    #[test]
    fn from_matches_reads_the_config_file_flag() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.yaml");
        std::fs::write(&path, "http-address: fromfile:9\n").unwrap();
        let argv = [
            "svc".to_string(),
            format!("--config-file={}", path.display()),
        ];
        let m = Args::command().try_get_matches_from(argv).unwrap();
        let a: Args = from_matches(&m).unwrap();
        assert_eq!(a.http_address, "fromfile:9");
    }

    #[test]
    fn errors_name_source_and_field() {
        let e = run(&["svc"], Some("http-adress: x\n"), &[])
            .unwrap_err()
            .chain();
        assert!(e.contains("http-adress") && e.contains("aeon.yaml"), "{e}");

        let e = run(&["svc"], Some("block-sync-concurrency: many\n"), &[])
            .unwrap_err()
            .chain();
        assert!(
            e.contains("block_sync_concurrency") && e.contains("aeon.yaml"),
            "{e}"
        );

        let e = run(&["svc"], None, &[("AEON_INDEX_CACHE_SIZE", "lots")])
            .unwrap_err()
            .chain();
        assert!(
            e.contains("AEON_INDEX_CACHE_SIZE") && e.contains("lots"),
            "{e}"
        );

        let e = run(&["svc"], Some("[not, a, map]\n"), &[])
            .unwrap_err()
            .chain();
        assert!(e.contains("aeon.yaml"), "{e}");
    }

    #[test]
    fn env_expansion_like_thanos() {
        let env = |n: &str| match n {
            "BUCKET" => Some("my-bucket".to_string()),
            "EMPTY" => Some(String::new()),
            _ => None,
        };
        let got = expand_env_with(
            "bucket: $(BUCKET)\nx: a$(EMPTY)b\nkeep: $HOME ${HOME} $(not valid) $(\n",
            "--objstore.config",
            env,
        )
        .unwrap();
        assert_eq!(
            got,
            "bucket: my-bucket\nx: ab\nkeep: $HOME ${HOME} $(not valid) $(\n"
        );
        let e = expand_env_with("key: $(NOPE_UNSET)", "--objstore.config", env)
            .unwrap_err()
            .chain();
        assert!(
            e.contains("--objstore.config") && e.contains("\"NOPE_UNSET\""),
            "{e}"
        );
    }

    #[test]
    fn inline_or_file_is_exclusive() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("b.yaml");
        std::fs::write(&p, "type: FILESYSTEM\n").unwrap();
        let got =
            inline_or_file(None, Some(&p), "objstore.config", "objstore.config-file").unwrap();
        assert_eq!(got.unwrap().0, "type: FILESYSTEM\n");
        let e = inline_or_file(
            Some("x"),
            Some(&p),
            "objstore.config",
            "objstore.config-file",
        );
        assert!(e.unwrap_err().chain().contains("mutually exclusive"));
        let missing = dir.path().join("nope.yaml");
        let e = inline_or_file(
            None,
            Some(&missing),
            "objstore.config",
            "objstore.config-file",
        );
        assert!(e.unwrap_err().chain().contains("nope.yaml"));
    }
}
