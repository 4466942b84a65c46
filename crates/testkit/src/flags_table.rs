//! Readers for the flag table in `docs/flags.md` and for two `--help`
//! formats: clap's (`aeon <cmd> --help`) and kingpin's (Thanos's, as its
//! docs print it). `crates/aeon/tests/flags_table.rs` checks the table
//! against our help; `cargo xtask flags --thanos-docs DIR` checks it against
//! Thanos's.

/// One row of a command's table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Flag name without dashes (`http-address`).
    pub flag: String,
    /// Aeon's default as its help prints it (empty: none).
    pub default: String,
    /// `implemented`, `no effect`, `not supported`, `TLS` or `Aeon only`.
    pub status: String,
    /// Why, for the statuses that need one.
    pub notes: String,
}

/// The statuses a row may have.
pub const STATUSES: &[&str] = &[
    "implemented",
    "no effect",
    "not supported",
    "TLS",
    "Aeon only",
];

/// The table of each command (`## sidecar` headings followed by a table),
/// in file order.
pub fn parse_table(md: &str) -> Vec<(String, Vec<Row>)> {
    let mut out: Vec<(String, Vec<Row>)> = Vec::new();
    for line in md.lines() {
        if let Some(cmd) = line.strip_prefix("## ") {
            out.push((cmd.trim().to_owned(), Vec::new()));
            continue;
        }
        let Some((_, rows)) = out.last_mut() else {
            continue;
        };
        let Some(body) = line.trim().strip_prefix('|') else {
            continue;
        };
        let cells: Vec<String> = body
            .replace("\\|", "\u{0}")
            .split('|')
            .map(|c| c.trim().replace('\u{0}', "|"))
            .collect();
        if cells.len() < 4 {
            continue;
        }
        let Some(flag) = cells[0]
            .strip_prefix("`--")
            .and_then(|f| f.strip_suffix('`'))
        else {
            continue; // the header and the separator
        };
        rows.push(Row {
            flag: flag.to_owned(),
            default: cells[1].trim_matches('`').to_owned(),
            status: cells[2].clone(),
            notes: cells[3].clone(),
        });
    }
    out
}

/// A flag of a `--help` text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelpFlag {
    /// Name without dashes.
    pub flag: String,
    /// The default shown (quotes removed; empty: none).
    pub default: String,
    /// The description, whitespace collapsed.
    pub help: String,
    /// A kingpin `--[no-]flag` boolean.
    pub negatable: bool,
}

/// The start of a flag line: at most six spaces, an optional `-x, `, then
/// `--name`. Returns the rest of the line after `--`.
fn flag_line(line: &str) -> Option<&str> {
    let indent = line.len() - line.trim_start().len();
    if !(2..=6).contains(&indent) {
        return None;
    }
    let t = line.trim_start();
    let t = match t.strip_prefix('-') {
        Some(r) if !r.starts_with('-') && r.len() > 3 && &r[1..3] == ", " => &r[3..],
        _ => t,
    };
    t.strip_prefix("--")
}

fn unquote(s: &str) -> String {
    let s = s.trim();
    s.strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .unwrap_or(s)
        .to_owned()
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Flags of clap's long help: `  --name <V>` / `--name[=<true|false>]`,
/// description lines below, `[default: x]` anywhere in it.
pub fn parse_clap_help(text: &str) -> Vec<HelpFlag> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if let Some(rest) = flag_line(line) {
            let end = rest.find([' ', '[', '=', '<']).unwrap_or(rest.len());
            out.push((rest[..end].to_owned(), rest[end..].to_owned()));
        } else if line.starts_with("       ")
            && let Some((_, text)) = out.last_mut()
        {
            text.push(' ');
            text.push_str(line.trim());
        }
    }
    out.into_iter()
        .map(|(flag, text)| {
            let text = collapse(&text);
            let default = text
                .find("[default: ")
                .and_then(|i| {
                    let r = &text[i + "[default: ".len()..];
                    r.find(']').map(|j| unquote(&r[..j]))
                })
                .unwrap_or_default();
            HelpFlag {
                flag,
                default,
                help: text,
                negatable: false,
            }
        })
        .collect()
}

/// Flags of kingpin's help for `thanos <cmd>` (`cmd` may be `tools bucket
/// ls`) in a Thanos docs page: the code block that starts with `usage:
/// thanos <cmd> `. `--flag=x` gives the default (a placeholder such as
/// `<file-path>` or `FLAG-NAME` is none).
pub fn parse_kingpin_help(md: &str, cmd: &str) -> Option<Vec<HelpFlag>> {
    let start = md.find(&format!("usage: thanos {cmd} "))?;
    let block = &md[start..];
    let block = &block[..block.find("```").unwrap_or(block.len())];
    let mut out: Vec<HelpFlag> = Vec::new();
    for line in block.lines() {
        if let Some(rest) = flag_line(line) {
            let (negatable, rest) = match rest.strip_prefix("[no-]") {
                Some(r) => (true, r),
                None => (false, rest),
            };
            let end = rest.find([' ', '=']).unwrap_or(rest.len());
            let flag = rest[..end].to_owned();
            let after = &rest[end..];
            let default = after
                .strip_prefix('=')
                .map(|v| {
                    let v = v.split("  ").next().unwrap_or("").trim();
                    let v = v.trim_end_matches(" ...").trim_end_matches("...");
                    let placeholder = v.starts_with('<')
                        || (!v.is_empty()
                            && v.chars().all(|c| {
                                c.is_ascii_uppercase() || c == '-' || c == '.' || c.is_ascii_digit()
                            })
                            && v.chars().any(|c| c.is_ascii_uppercase()));
                    if placeholder {
                        String::new()
                    } else {
                        unquote(v)
                    }
                })
                .unwrap_or_default();
            let help = after
                .strip_prefix('=')
                .map_or(after, |v| v.split_once("  ").map_or("", |(_, h)| h));
            out.push(HelpFlag {
                flag,
                default,
                help: collapse(help),
                negatable,
            });
        } else if line.starts_with("        ")
            && let Some(last) = out.last_mut()
        {
            last.help = collapse(&format!("{} {}", last.help, line.trim()));
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_table() {
        let md = "# x\n\n## store\n\n| Flag | Default | Status | Notes |\n|---|---|---|---|\n\
                  | `--data-dir` | `./data` | implemented |  |\n\
                  | `--hash-func` |  | not supported | a \\| b |\n\n## query\n";
        let t = parse_table(md);
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].0, "store");
        assert_eq!(
            t[0].1[1],
            Row {
                flag: "hash-func".into(),
                default: String::new(),
                status: "not supported".into(),
                notes: "a | b".into()
            }
        );
        assert_eq!(t[0].1[0].default, "./data");
    }

    #[test]
    fn reads_clap_help() {
        let h = "Options:\n      --http-address <HTTP_ADDRESS>\n          Listen host:port [default:\n          0.0.0.0:10902]\n      --wait[=<true|false>]\n          Do not exit (--no-wait turns it off) [default: false]\n      --hash-func <H>\n          x [default: \"\"]\n  -h, --help\n          Print help\n";
        let f = parse_clap_help(h);
        let names: Vec<_> = f.iter().map(|f| f.flag.as_str()).collect();
        assert_eq!(names, ["http-address", "wait", "hash-func", "help"]);
        assert_eq!(f[0].default, "0.0.0.0:10902");
        assert_eq!(f[1].default, "false");
        assert_eq!(f[2].default, "");
    }

    #[test]
    fn reads_kingpin_help() {
        let md = "```\nusage: thanos store [<flags>]\n\nFlags:\n  -h, --[no-]help                Show help.\n      --http-address=\"0.0.0.0:10902\"\n                                 Listen host:port.\n      --[no-]web.disable         Disable UI.\n      --tracing.config-file=<file-path>\n                                 Path.\n      --reloader.rule-dir=RELOADER.RULE-DIR ...\n                                 Dirs.\n      --query.conn-metric.label=external_labels... ...\n      --sync-block-duration=15m  Repeat interval\n                                 --delete-delay on compactor.\n```\n";
        let f = parse_kingpin_help(md, "store").unwrap();
        let got: Vec<_> = f
            .iter()
            .map(|f| (f.flag.as_str(), f.default.as_str(), f.negatable))
            .collect();
        assert_eq!(
            got,
            [
                ("help", "", true),
                ("http-address", "0.0.0.0:10902", false),
                ("web.disable", "", true),
                ("tracing.config-file", "", false),
                ("reloader.rule-dir", "", false),
                ("query.conn-metric.label", "external_labels", false),
                ("sync-block-duration", "15m", false),
            ]
        );
        assert!(parse_kingpin_help(md, "query").is_none());
    }
}
