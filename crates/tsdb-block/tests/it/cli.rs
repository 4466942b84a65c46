//! The `tsdb` CLI against promtool's output on the same data.

use aeon_tsdb_block::cli::{CreateBlocksSource, TsdbCommand};

use crate::util::{gen_openmetrics, promtool_dump, run_promtool};

fn run(cmd: TsdbCommand) -> String {
    let mut out = Vec::new();
    cmd.run(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn list_dump_analyze_and_backfill_match_promtool() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in.om");
    std::fs::write(&input, gen_openmetrics(3, 60, 5)).unwrap();
    let theirs = tmp.path().join("theirs");
    run_promtool(&[
        "tsdb",
        "create-blocks-from",
        "openmetrics",
        input.to_str().unwrap(),
        theirs.to_str().unwrap(),
    ]);
    let _ = promtool_dump(&theirs); // creates the wal dir promtool needs

    // list: byte-identical table.
    let want = run_promtool(&["tsdb", "list", theirs.to_str().unwrap()]);
    assert_eq!(
        run(TsdbCommand::List {
            db_path: theirs.clone()
        }),
        want
    );

    // dump with a selector and a time range.
    let (mint, maxt) = ("1700003000000", "1700009000000");
    let want = run_promtool(&[
        "tsdb",
        "dump",
        "--min-time",
        mint,
        "--max-time",
        maxt,
        "--match",
        "{job=\"j1\", instance=~\"host-[13]\"}",
        theirs.to_str().unwrap(),
    ]);
    assert!(
        want.lines().count() > 100,
        "selector matched too little: {}",
        want.lines().count()
    );
    let got = run(TsdbCommand::Dump {
        db_path: theirs.clone(),
        min_time: mint.parse().unwrap(),
        max_time: maxt.parse().unwrap(),
        matchers: vec!["{job=\"j1\", instance=~\"host-[13]\"}".into()],
    });
    assert_eq!(got, want);

    // Several --match flags select the union.
    let want = run_promtool(&[
        "tsdb",
        "dump",
        "--match",
        "{job=\"j2\", instance=\"host-0\"}",
        "--match",
        "gauge_metric_1{instance=~\"host-[02]\"}",
        theirs.to_str().unwrap(),
    ]);
    assert!(want.lines().count() > 100, "selectors matched too little");
    let got = run(TsdbCommand::Dump {
        db_path: theirs.clone(),
        min_time: i64::MIN,
        max_time: i64::MAX,
        matchers: vec![
            "{job=\"j2\", instance=\"host-0\"}".into(),
            "gauge_metric_1{instance=~\"host-[02]\"}".into(),
        ],
    });
    assert_eq!(got, want);

    // analyze: the deterministic header and every "count key" line set.
    let want = run_promtool(&["tsdb", "analyze", theirs.to_str().unwrap()]);
    let got = run(TsdbCommand::Analyze {
        db_path: theirs.clone(),
        block_id: None,
        limit: 20,
    });
    let head = |s: &str| s.lines().take(6).map(str::to_string).collect::<Vec<_>>();
    assert_eq!(head(&got), head(&want));
    for section in [
        "Highest cardinality labels:",
        "Highest cardinality metric names:",
        "Label names most involved in churning:",
    ] {
        let sec = |s: &str| {
            let mut v: Vec<String> = s
                .split(section)
                .nth(1)
                .unwrap()
                .lines()
                .skip(1)
                .take_while(|l| !l.is_empty())
                .map(str::to_string)
                .collect();
            v.sort();
            v
        };
        if sec(&want).len() < 20 {
            assert_eq!(sec(&got), sec(&want), "section {section}");
        }
    }

    // create-blocks-from through the CLI produces what promtool dumps.
    let ours = tmp.path().join("ours");
    let table = run(TsdbCommand::CreateBlocksFrom {
        source: CreateBlocksSource::Openmetrics {
            input: input.clone(),
            output_dir: ours.clone(),
            max_block_duration_ms: None,
        },
    });
    assert!(table.starts_with("BLOCK ULID"), "{table}");
    assert_eq!(
        table.lines().count(),
        1 + aeon_tsdb_block::dump::find_blocks(&ours).unwrap().len()
    );
    assert_eq!(promtool_dump(&ours), promtool_dump(&theirs));
}
