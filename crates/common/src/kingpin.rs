//! Kingpin's command-line conventions that clap lacks, so a Thanos command
//! line parses unchanged.
//!
//! - Booleans are `--[no-]flag`: `--flag` sets it, `--no-flag` clears it,
//!   whatever its default (`--no-query.partial-response`,
//!   `--no-shipper.upload-compacted`); `--flag=false` works too. A service
//!   declares a boolean as a plain `bool` field (clap's `SetTrue`, with
//!   `default_value_t = true` where Thanos defaults to true); [`command`]
//!   turns every such flag into one taking an optional `=true|false`, and
//!   [`args`] rewrites `--no-flag` into `--flag=false` before clap parses.
//! - `--help-long` prints the long help, as kingpin's does.
//! - Flags whose help starts with [`NO_EFFECT`] are accepted and only
//!   logged at start-up when set ([`inert_flags`]); flags whose help starts
//!   with [`UNSUPPORTED`] stop start-up when set to anything but their
//!   default. Both markers are visible in `--help`, so the help says what
//!   Aeon does with each flag.

use std::ffi::{OsStr, OsString};

use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command};

/// Help prefix of a flag that is accepted and has no effect in Aeon (the
/// rest of the help says why).
pub const NO_EFFECT: &str = "[no effect in Aeon]";
/// Help prefix of a flag Aeon does not implement: setting it to anything
/// but its default is a start-up error.
pub const UNSUPPORTED: &str = "[not supported by Aeon]";

const BOOL_VALUE_NAME: &str = "true|false";

/// Turns every `SetTrue` flag of `cmd` and its subcommands into a kingpin
/// boolean: `--flag`, `--flag=true|false` and (through [`args`])
/// `--no-flag`.
pub fn command(cmd: Command) -> Command {
    let bools: Vec<String> = cmd
        .get_arguments()
        .filter(|a| matches!(a.get_action(), ArgAction::SetTrue) && a.get_long().is_some())
        .map(|a| a.get_id().as_str().to_owned())
        .collect();
    let mut cmd = cmd.arg(
        Arg::new("help-long")
            .long("help-long")
            .action(ArgAction::HelpLong)
            .help("Generate long help (kingpin's spelling of --help)"),
    );
    for id in bools {
        cmd = cmd.mut_arg(id, |a| {
            let me = a.get_id().clone();
            let on = a.get_default_values().first().is_some_and(|v| v == "true");
            let default = if on { "true" } else { "false" };
            let long = a.get_long().unwrap_or_default().to_owned();
            let help = a.get_help().map(ToString::to_string).unwrap_or_default();
            a.action(ArgAction::Set)
                .overrides_with(me)
                .num_args(0..=1)
                .require_equals(true)
                .default_missing_value("true")
                .default_value(default)
                .value_name(BOOL_VALUE_NAME)
                .hide_possible_values(true)
                .help(format!("{help} (--no-{long} turns it off)"))
        });
    }
    let subs: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    for name in subs {
        cmd = cmd.mut_subcommand(name, command);
    }
    cmd
}

/// Whether `arg` is a boolean made by [`command`].
fn is_bool(arg: &Arg) -> bool {
    arg.get_value_names()
        .is_some_and(|n| n.len() == 1 && n[0].as_str() == BOOL_VALUE_NAME)
}

/// Whether `arg` consumes the next token as its value (`--flag value`).
fn takes_separate_value(arg: &Arg) -> bool {
    if is_bool(arg) || arg.is_require_equals_set() {
        return false;
    }
    !matches!(
        arg.get_action(),
        ArgAction::SetTrue
            | ArgAction::SetFalse
            | ArgAction::Count
            | ArgAction::Help
            | ArgAction::HelpShort
            | ArgAction::HelpLong
            | ArgAction::Version
    )
}

/// Rewrites kingpin's `--no-flag` into `--flag=false` for every boolean of
/// the (sub)command it appears in; everything else is passed through for
/// clap to judge.
pub fn args<I, T>(cmd: &Command, argv: I) -> Vec<OsString>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let argv: Vec<OsString> = argv.into_iter().map(Into::into).collect();
    let mut out = Vec::with_capacity(argv.len());
    // The commands from the root to the current subcommand: a flag of any of
    // them may appear (clap's global flags, and ours before the command).
    let mut path: Vec<&Command> = vec![cmd];
    let mut iter = argv.into_iter().enumerate().peekable();
    while let Some((i, tok)) = iter.next() {
        if i == 0 {
            out.push(tok);
            continue;
        }
        let Some(s) = tok.to_str() else {
            out.push(tok);
            continue;
        };
        if s == "--" {
            out.push(tok);
            out.extend(iter.map(|(_, t)| t));
            break;
        }
        let find_long = |name: &str| {
            path.iter()
                .rev()
                .find_map(|c| c.get_arguments().find(|a| a.get_long() == Some(name)))
        };
        if let Some(body) = s.strip_prefix("--") {
            let (name, has_value) = match body.split_once('=') {
                Some((n, _)) => (n, true),
                None => (body, false),
            };
            if !has_value
                && find_long(name).is_none()
                && let Some(positive) = name.strip_prefix("no-")
                && let Some(arg) = find_long(positive).filter(|a| is_bool(a))
            {
                let long = arg.get_long().unwrap_or(positive);
                out.push(OsString::from(format!("--{long}=false")));
                continue;
            }
            let skip = !has_value && find_long(name).is_some_and(takes_separate_value);
            out.push(tok);
            if skip && let Some((_, v)) = iter.next() {
                out.push(v);
            }
            continue;
        }
        if let Some(shorts) = s.strip_prefix('-').filter(|r| !r.is_empty()) {
            // `-o json` takes the next token; `-ojson` and `-w` do not.
            let mut chars = shorts.chars();
            let first = chars.next();
            let rest_empty = chars.as_str().is_empty();
            let takes = first.is_some_and(|c| {
                path.iter().rev().any(|cmd| {
                    cmd.get_arguments()
                        .any(|a| a.get_short() == Some(c) && takes_separate_value(a))
                })
            });
            out.push(tok);
            if takes
                && rest_empty
                && let Some((_, v)) = iter.next()
            {
                out.push(v);
            }
            continue;
        }
        let cur = path.last().copied().unwrap_or(cmd);
        if let Some(sub) = cur.find_subcommand(OsStr::new(s)) {
            path.push(sub);
        }
        out.push(tok);
    }
    out
}

/// A flag of a service that was set but has no effect ([`NO_EFFECT`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InertFlag {
    /// `--flag`.
    pub flag: String,
    /// Why it has no effect (the rest of its help).
    pub why: String,
}

/// The flags of `cmd` marked [`NO_EFFECT`] that the command line set
/// (`matches`) or whose layered value differs from the default (`set`
/// answers for the config file and environment).
pub fn inert_flags(
    cmd: &Command,
    matches: &ArgMatches,
    set: impl Fn(&str) -> bool,
) -> Vec<InertFlag> {
    marked(cmd, NO_EFFECT, Some(matches), set)
}

/// The flags of `cmd` marked [`UNSUPPORTED`] whose value differs from the
/// default (`set`); typing the default value is fine.
pub fn unsupported_flags(cmd: &Command, set: impl Fn(&str) -> bool) -> Vec<InertFlag> {
    marked(cmd, UNSUPPORTED, None, set)
}

fn marked(
    cmd: &Command,
    marker: &str,
    matches: Option<&ArgMatches>,
    set: impl Fn(&str) -> bool,
) -> Vec<InertFlag> {
    cmd.get_arguments()
        .filter_map(|a| {
            let help = a.get_help()?.to_string();
            let why = help.strip_prefix(marker)?.trim().to_owned();
            let id = a.get_id().as_str();
            let typed =
                matches.is_some_and(|m| m.value_source(id) == Some(ValueSource::CommandLine));
            (typed || set(id)).then(|| InertFlag {
                flag: format!("--{}", a.get_long().unwrap_or(id)),
                why,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, FromArgMatches, Parser};

    #[derive(Debug, Parser)]
    #[command(name = "svc")]
    struct Svc {
        /// Off by default.
        #[arg(long = "shipper.upload-compacted")]
        upload_compacted: bool,
        /// On by default.
        #[arg(long = "query.partial-response", default_value_t = true)]
        partial: bool,
        /// Short and long.
        #[arg(short = 'w', long = "wait")]
        wait: bool,
        #[arg(long = "name", default_value = "x")]
        name: String,
        #[command(subcommand)]
        sub: Option<Sub>,
    }

    #[derive(Debug, clap::Subcommand)]
    enum Sub {
        Ls {
            #[arg(long = "exclude-delete")]
            exclude_delete: bool,
            #[arg(short = 'o', long = "output", default_value = "")]
            output: String,
        },
    }

    fn parse(argv: &[&str]) -> Svc {
        let cmd = command(Svc::command());
        let argv = args(&cmd, std::iter::once("svc").chain(argv.iter().copied()));
        let m = cmd.try_get_matches_from(argv).unwrap();
        Svc::from_arg_matches(&m).unwrap()
    }

    #[test]
    fn booleans_take_kingpin_syntax() {
        let a = parse(&[]);
        assert!(!a.upload_compacted && a.partial && !a.wait);
        let a = parse(&[
            "--shipper.upload-compacted",
            "--no-query.partial-response",
            "-w",
        ]);
        assert!(a.upload_compacted && !a.partial && a.wait);
        let a = parse(&[
            "--query.partial-response=false",
            "--shipper.upload-compacted=true",
        ]);
        assert!(a.upload_compacted && !a.partial);
        // The last one wins, as in kingpin.
        let a = parse(&["--no-wait", "--wait"]);
        assert!(a.wait);
        let a = parse(&["--wait", "--no-wait"]);
        assert!(!a.wait);
        // A flag's value is never rewritten.
        let a = parse(&["--name", "no-wait"]);
        assert_eq!(a.name, "no-wait");
        let a = parse(&["--name=--no-wait", "--wait"]);
        assert!(a.name == "--no-wait" && a.wait);
    }

    #[test]
    fn subcommand_booleans_and_short_values() {
        let a = parse(&["ls", "-o", "json", "--no-exclude-delete"]);
        let Some(Sub::Ls {
            exclude_delete,
            output,
        }) = a.sub
        else {
            panic!("no subcommand");
        };
        assert!(!exclude_delete);
        assert_eq!(output, "json");
        let a = parse(&["ls", "--exclude-delete"]);
        assert!(matches!(
            a.sub,
            Some(Sub::Ls {
                exclude_delete: true,
                ..
            })
        ));
    }

    #[test]
    fn unknown_negations_stay_errors() {
        let cmd = command(Svc::command());
        let argv = args(&cmd, ["svc", "--no-name"]);
        assert_eq!(argv[1], "--no-name");
        assert!(cmd.try_get_matches_from(argv).is_err());
    }

    #[test]
    fn help_shows_the_negation() {
        let mut cmd = command(Svc::command());
        let help = cmd.render_long_help().to_string();
        assert!(help.contains("--no-wait turns it off"), "{help}");
        assert!(help.contains("--wait[=<true|false>]"), "{help}");
    }
}
