use super::*;

fn kinds(q: &str) -> Vec<(Tok, String)> {
    let mut l = Lexer::new(q);
    let mut out = Vec::new();
    loop {
        let it = l.next_item();
        let done = matches!(it.typ, Tok::EOF | Tok::ERROR);
        out.push((it.typ, it.val));
        if done {
            return out;
        }
    }
}

#[test]
fn tokens_as_prometheus_lexes_them() {
    use Tok::*;
    let got: Vec<Tok> = kinds("sum by (a) (rate(x{b=~\"c\"}[5m:1m] offset -1h)) >= bool 0x1F")
        .into_iter()
        .map(|t| t.0)
        .collect();
    assert_eq!(
        got,
        [
            SUM,
            BY,
            LEFT_PAREN,
            IDENTIFIER,
            RIGHT_PAREN,
            LEFT_PAREN,
            IDENTIFIER,
            LEFT_PAREN,
            IDENTIFIER,
            LEFT_BRACE,
            IDENTIFIER,
            EQL_REGEX,
            STRING,
            RIGHT_BRACE,
            LEFT_BRACKET,
            DURATION,
            COLON,
            DURATION,
            RIGHT_BRACKET,
            OFFSET,
            SUB,
            DURATION,
            RIGHT_PAREN,
            RIGHT_PAREN,
            GTE,
            BOOL,
            NUMBER,
            EOF
        ]
    );
    assert_eq!(kinds("a:b")[0], (METRIC_IDENTIFIER, "a:b".into()));
    assert_eq!(kinds("Inf")[0], (NUMBER, "Inf".into()));
    assert_eq!(kinds("1.5m")[0], (DURATION, "1.5m".into()));
}

#[test]
fn lexer_errors_have_prometheus_texts() {
    let last = |q: &str| kinds(q).pop().unwrap().1;
    assert_eq!(last("sum("), "unclosed left parenthesis");
    assert_eq!(last("a)"), "unexpected right parenthesis ')'");
    assert_eq!(last("a[5m"), "unclosed left bracket");
    assert_eq!(last("a{b"), "unexpected end of input inside braces");
    assert_eq!(last("a !x"), "unexpected character after '!': 'x'");
    assert_eq!(last("a !"), "unexpected character after '!': '\u{fffd}'");
    assert_eq!(last("a =~ b"), "unexpected character after '=': '~'");
    assert_eq!(last("a $"), "unexpected character: '$'");
    assert_eq!(last("1x"), "bad number or duration syntax: \"1\"");
    assert_eq!(last("\"a\\qb\""), "unknown escape sequence U+0071 'q'");
    assert_eq!(
        last("a[:5m]"),
        "unexpected colon before duration in duration expression"
    );
    assert_eq!(last("a{1}"), "unexpected character inside braces: '1'");
}

#[test]
fn descriptions_for_syntax_errors() {
    let d = |q: &str| Lexer::new(q).next_item().desc();
    assert_eq!(d("foo"), "identifier \"foo\"");
    assert_eq!(d("SUM"), "<aggr:SUM>");
    assert_eq!(d("by"), "<by>");
    assert_eq!(d("and"), "<op:and>");
    assert_eq!(d("@"), "\"<Item 57400>\" <op:@>");
    assert_eq!(d("start"), "\"start\"");
    assert_eq!(d("("), "\"(\"");
    assert_eq!(d("1.5"), "number \"1.5\"");
    assert_eq!(d("\"abcdefghijkl\""), "string \"\\\"abcdefghi\"...");
    assert_eq!(d(""), "end of input");
    assert_eq!(d("a:b"), "metric identifier \"a:b\"");
}

#[test]
fn durations_and_unquoting() {
    assert_eq!(go_duration_ns("1h30m"), Ok(5_400_000_000_000));
    assert_eq!(parse_duration("5ms"), Some(5));
    assert_eq!(
        go_duration_ns("1.5m").unwrap_err(),
        "unknown unit \".\" in duration \"1.5m\""
    );
    assert_eq!(
        go_duration_ns("1m1h").unwrap_err(),
        "not a valid duration string: \"1m1h\""
    );
    assert_eq!(
        go_duration_ns("300000000y").unwrap_err(),
        "duration out of range"
    );
    let s = unquote(r#""a\xc5z""#).unwrap();
    assert!(!is_valid_utf8(&s));
    assert_eq!(go_quote(&s), r#""a\xc5z""#);
    assert_eq!(unquote("`a\\n`").unwrap(), "a\\n");
    assert_eq!(unquote(r#"'it\'s'"#).unwrap(), "it's");
    assert_eq!(go_quote_rune('\u{a0}'), "'\\u00a0'");
}
