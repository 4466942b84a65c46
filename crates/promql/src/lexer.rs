//! PromQL lexer with Prometheus 3.5's states and error texts: tokens are
//! produced one at a time as the parser asks for them (errors therefore
//! surface at the same point of the parse as in Prometheus), the lexer
//! tracks open parentheses, braces and brackets, and a range or subquery in
//! brackets is lexed as a duration expression.

mod text;

pub(crate) use text::go_duration_ns;
pub use text::parse_duration;
pub(crate) use text::{go_quote, go_quote_rune, is_valid_utf8, unquote};

/// Token kinds, in the order of Prometheus's `%token` declarations (the
/// order matters: it is the parser generator's token numbering, and
/// [`Tok::item_type`] is Prometheus's numeric `ItemType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
#[allow(clippy::upper_case_acronyms, non_camel_case_types)]
pub(crate) enum Tok {
    EQL,
    BLANK,
    COLON,
    COMMA,
    COMMENT,
    DURATION,
    EOF,
    ERROR,
    IDENTIFIER,
    LEFT_BRACE,
    LEFT_BRACKET,
    LEFT_PAREN,
    OPEN_HIST,
    CLOSE_HIST,
    METRIC_IDENTIFIER,
    NUMBER,
    RIGHT_BRACE,
    RIGHT_BRACKET,
    RIGHT_PAREN,
    SEMICOLON,
    SPACE,
    STRING,
    TIMES,
    histogramDescStart,
    SUM_DESC,
    COUNT_DESC,
    SCHEMA_DESC,
    OFFSET_DESC,
    NEGATIVE_OFFSET_DESC,
    BUCKETS_DESC,
    NEGATIVE_BUCKETS_DESC,
    ZERO_BUCKET_DESC,
    ZERO_BUCKET_WIDTH_DESC,
    CUSTOM_VALUES_DESC,
    COUNTER_RESET_HINT_DESC,
    histogramDescEnd,
    operatorsStart,
    ADD,
    DIV,
    EQLC,
    EQL_REGEX,
    GTE,
    GTR,
    LAND,
    LOR,
    LSS,
    LTE,
    LUNLESS,
    MOD,
    MUL,
    NEQ,
    NEQ_REGEX,
    POW,
    SUB,
    AT,
    ATAN2,
    operatorsEnd,
    aggregatorsStart,
    AVG,
    BOTTOMK,
    COUNT,
    COUNT_VALUES,
    GROUP,
    MAX,
    MIN,
    QUANTILE,
    STDDEV,
    STDVAR,
    SUM,
    TOPK,
    LIMITK,
    LIMIT_RATIO,
    aggregatorsEnd,
    keywordsStart,
    BOOL,
    BY,
    GROUP_LEFT,
    GROUP_RIGHT,
    IGNORING,
    OFFSET,
    ON,
    WITHOUT,
    keywordsEnd,
    preprocessorStart,
    START,
    END,
    preprocessorEnd,
    counterResetHintsStart,
    UNKNOWN_COUNTER_RESET,
    COUNTER_RESET,
    NOT_COUNTER_RESET,
    GAUGE_TYPE,
    counterResetHintsEnd,
    startSymbolsStart,
    START_METRIC,
    START_SERIES_DESCRIPTION,
    START_EXPRESSION,
    START_METRIC_SELECTOR,
    startSymbolsEnd,
}

/// Number of token kinds.
pub(crate) const NTOKENS: usize = Tok::startSymbolsEnd as usize + 1;

impl Tok {
    /// All token kinds in declaration order.
    pub(crate) fn all() -> impl Iterator<Item = Tok> {
        // SAFETY-free: every value below NTOKENS is a variant (repr(u8), no gaps).
        (0..NTOKENS as u8).map(Tok::from_index)
    }

    fn from_index(i: u8) -> Tok {
        ALL_TOKS[i as usize]
    }

    /// The token's name in the grammar.
    pub(crate) fn name(self) -> String {
        format!("{self:?}")
    }

    /// Prometheus's numeric `ItemType` (goyacc numbers tokens from 57346).
    fn item_type(self) -> u32 {
        57346 + self as u32
    }

    fn is_operator(self) -> bool {
        self > Tok::operatorsStart && self < Tok::operatorsEnd
    }
    fn is_aggregator(self) -> bool {
        self > Tok::aggregatorsStart && self < Tok::aggregatorsEnd
    }
    fn is_keyword(self) -> bool {
        self > Tok::keywordsStart && self < Tok::keywordsEnd
    }

    /// Prometheus's `ItemTypeStr` entry, if the kind has one.
    fn type_str(self) -> Option<&'static str> {
        use Tok::*;
        Some(match self {
            OPEN_HIST => "{{",
            CLOSE_HIST => "}}",
            LEFT_PAREN => "(",
            RIGHT_PAREN => ")",
            LEFT_BRACE => "{",
            RIGHT_BRACE => "}",
            LEFT_BRACKET => "[",
            RIGHT_BRACKET => "]",
            COMMA => ",",
            EQL => "=",
            COLON => ":",
            SEMICOLON => ";",
            BLANK => "_",
            TIMES => "x",
            SPACE => "<space>",
            SUB => "-",
            ADD => "+",
            MUL => "*",
            MOD => "%",
            DIV => "/",
            EQLC => "==",
            NEQ => "!=",
            LTE => "<=",
            LSS => "<",
            GTE => ">=",
            GTR => ">",
            EQL_REGEX => "=~",
            NEQ_REGEX => "!~",
            POW => "^",
            _ => return KEYWORDS.iter().find(|(_, t)| *t == self).map(|(s, _)| *s),
        })
    }

    /// `ItemType.String()`.
    fn type_string(self) -> String {
        match self.type_str() {
            Some(s) => s.to_string(),
            None => format!("<Item {}>", self.item_type()),
        }
    }

    /// `ItemType.desc()`.
    fn type_desc(self) -> String {
        match self {
            Tok::ERROR => "error".into(),
            Tok::EOF => "end of input".into(),
            Tok::COMMENT => "comment".into(),
            Tok::IDENTIFIER => "identifier".into(),
            Tok::METRIC_IDENTIFIER => "metric identifier".into(),
            Tok::STRING => "string".into(),
            Tok::NUMBER => "number".into(),
            Tok::DURATION => "duration".into(),
            t => go_quote(&t.type_string()),
        }
    }
}

static ALL_TOKS: [Tok; NTOKENS] = {
    use Tok::*;
    [
        EQL,
        BLANK,
        COLON,
        COMMA,
        COMMENT,
        DURATION,
        EOF,
        ERROR,
        IDENTIFIER,
        LEFT_BRACE,
        LEFT_BRACKET,
        LEFT_PAREN,
        OPEN_HIST,
        CLOSE_HIST,
        METRIC_IDENTIFIER,
        NUMBER,
        RIGHT_BRACE,
        RIGHT_BRACKET,
        RIGHT_PAREN,
        SEMICOLON,
        SPACE,
        STRING,
        TIMES,
        histogramDescStart,
        SUM_DESC,
        COUNT_DESC,
        SCHEMA_DESC,
        OFFSET_DESC,
        NEGATIVE_OFFSET_DESC,
        BUCKETS_DESC,
        NEGATIVE_BUCKETS_DESC,
        ZERO_BUCKET_DESC,
        ZERO_BUCKET_WIDTH_DESC,
        CUSTOM_VALUES_DESC,
        COUNTER_RESET_HINT_DESC,
        histogramDescEnd,
        operatorsStart,
        ADD,
        DIV,
        EQLC,
        EQL_REGEX,
        GTE,
        GTR,
        LAND,
        LOR,
        LSS,
        LTE,
        LUNLESS,
        MOD,
        MUL,
        NEQ,
        NEQ_REGEX,
        POW,
        SUB,
        AT,
        ATAN2,
        operatorsEnd,
        aggregatorsStart,
        AVG,
        BOTTOMK,
        COUNT,
        COUNT_VALUES,
        GROUP,
        MAX,
        MIN,
        QUANTILE,
        STDDEV,
        STDVAR,
        SUM,
        TOPK,
        LIMITK,
        LIMIT_RATIO,
        aggregatorsEnd,
        keywordsStart,
        BOOL,
        BY,
        GROUP_LEFT,
        GROUP_RIGHT,
        IGNORING,
        OFFSET,
        ON,
        WITHOUT,
        keywordsEnd,
        preprocessorStart,
        START,
        END,
        preprocessorEnd,
        counterResetHintsStart,
        UNKNOWN_COUNTER_RESET,
        COUNTER_RESET,
        NOT_COUNTER_RESET,
        GAUGE_TYPE,
        counterResetHintsEnd,
        startSymbolsStart,
        START_METRIC,
        START_SERIES_DESCRIPTION,
        START_EXPRESSION,
        START_METRIC_SELECTOR,
        startSymbolsEnd,
    ]
};

/// Keywords (lower case) and their kinds; `inf` and `nan` are numbers.
const KEYWORDS: &[(&str, Tok)] = &[
    ("and", Tok::LAND),
    ("or", Tok::LOR),
    ("unless", Tok::LUNLESS),
    ("atan2", Tok::ATAN2),
    ("sum", Tok::SUM),
    ("avg", Tok::AVG),
    ("count", Tok::COUNT),
    ("min", Tok::MIN),
    ("max", Tok::MAX),
    ("group", Tok::GROUP),
    ("stddev", Tok::STDDEV),
    ("stdvar", Tok::STDVAR),
    ("topk", Tok::TOPK),
    ("bottomk", Tok::BOTTOMK),
    ("count_values", Tok::COUNT_VALUES),
    ("quantile", Tok::QUANTILE),
    ("limitk", Tok::LIMITK),
    ("limit_ratio", Tok::LIMIT_RATIO),
    ("offset", Tok::OFFSET),
    ("by", Tok::BY),
    ("without", Tok::WITHOUT),
    ("on", Tok::ON),
    ("ignoring", Tok::IGNORING),
    ("group_left", Tok::GROUP_LEFT),
    ("group_right", Tok::GROUP_RIGHT),
    ("bool", Tok::BOOL),
    ("start", Tok::START),
    ("end", Tok::END),
];

fn keyword(word: &str) -> Option<Tok> {
    let lower = word.to_ascii_lowercase();
    if lower == "inf" || lower == "nan" {
        return Some(Tok::NUMBER);
    }
    KEYWORDS.iter().find(|(k, _)| *k == lower).map(|(_, t)| *t)
}

/// A token: its kind, byte offset and text (for errors: the message).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Item {
    pub typ: Tok,
    pub pos: usize,
    pub val: String,
}

impl Item {
    /// `Item.String()`.
    fn string(&self) -> String {
        let t = self.typ;
        if t == Tok::EOF {
            "EOF".into()
        } else if t == Tok::ERROR {
            self.val.clone()
        } else if t == Tok::IDENTIFIER || t == Tok::METRIC_IDENTIFIER {
            go_quote(&self.val)
        } else if t.is_keyword() {
            format!("<{}>", self.val)
        } else if t.is_operator() {
            format!("<op:{}>", self.val)
        } else if t.is_aggregator() {
            format!("<aggr:{}>", self.val)
        } else if self.val.len() > 10 {
            // `%.10q`: the first ten characters, quoted.
            let head: String = self.val.chars().take(10).collect();
            format!("{}...", go_quote(&head))
        } else {
            go_quote(&self.val)
        }
    }

    /// `Item.desc()`: how a syntax error names the token.
    pub(crate) fn desc(&self) -> String {
        if self.typ.type_str().is_some() {
            return self.string();
        }
        if self.typ == Tok::EOF {
            return self.typ.type_desc();
        }
        format!("{} {}", self.typ.type_desc(), self.string())
    }

    /// Byte offset just after the token.
    pub(crate) fn end(&self) -> usize {
        self.pos + self.val.len()
    }
}

/// Formats a byte offset of `input` as Prometheus's `line:col`
/// (`posrange.StartPosInput`).
pub(crate) fn position(input: &str, pos: usize) -> String {
    if input.is_empty() {
        return "unknown position".into();
    }
    if pos > input.len() {
        return "invalid position".into();
    }
    let (line, col) = line_col(input, pos);
    format!("{line}:{col}")
}

/// 1-based line and byte column of `pos` in `input`.
pub(crate) fn line_col(input: &str, pos: usize) -> (u32, u32) {
    let before = &input.as_bytes()[..pos.min(input.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let col = match before.iter().rposition(|&b| b == b'\n') {
        Some(i) => pos - i,
        None => pos + 1,
    };
    (line as u32, col as u32)
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}
fn is_digit(c: char) -> bool {
    c.is_ascii_digit()
}
fn is_alpha(c: char) -> bool {
    c == '_' || c.is_ascii_alphabetic()
}
fn is_alnum(c: char) -> bool {
    is_alpha(c) || is_digit(c)
}

/// The lexer's state functions.
#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Statements,
    InsideBraces,
    String,
    RawString,
    Escape,
    Space,
    LineComment,
    NumberOrDuration,
    KeywordOrIdentifier,
    Identifier,
    DurationExpr,
    /// No state: every further token is EOF.
    Done,
}

/// End of input, as a character no input contains.
const EOF_CHAR: char = '\u{10FFFF}';

/// The lexer: call [`Lexer::next_item`] for each token.
pub(crate) struct Lexer<'a> {
    input: &'a str,
    state: State,
    pos: usize,
    /// Start of the token being scanned.
    pub start: usize,
    width: usize,
    item: Option<Item>,
    paren_depth: i32,
    brace_open: bool,
    bracket_open: bool,
    got_colon: bool,
    got_duration: bool,
    string_open: char,
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(input: &'a str) -> Self {
        Lexer {
            input,
            state: State::Statements,
            pos: 0,
            start: 0,
            width: 0,
            item: None,
            paren_depth: 0,
            brace_open: false,
            bracket_open: false,
            got_colon: false,
            got_duration: false,
            string_open: '"',
        }
    }

    fn next(&mut self) -> char {
        match self.input[self.pos..].chars().next() {
            None => {
                self.width = 0;
                EOF_CHAR
            }
            Some(c) => {
                self.width = c.len_utf8();
                self.pos += self.width;
                c
            }
        }
    }
    fn peek(&mut self) -> char {
        let c = self.next();
        self.backup();
        c
    }
    fn backup(&mut self) {
        self.pos -= self.width;
    }
    fn emit(&mut self, t: Tok) {
        self.item = Some(Item {
            typ: t,
            pos: self.start,
            val: self.input[self.start..self.pos].to_string(),
        });
        self.start = self.pos;
    }
    fn ignore(&mut self) {
        self.start = self.pos;
    }
    fn accept(&mut self, valid: &str) -> bool {
        let c = self.next();
        if c != EOF_CHAR && valid.contains(c) {
            return true;
        }
        self.backup();
        false
    }
    fn is(&mut self, valid: &str) -> bool {
        let c = self.peek();
        c != EOF_CHAR && valid.contains(c)
    }
    fn accept_run(&mut self, valid: &str) {
        while self.accept(valid) {}
    }
    fn errorf(&mut self, msg: String) -> State {
        self.item = Some(Item {
            typ: Tok::ERROR,
            pos: self.start,
            val: msg,
        });
        State::Done
    }

    /// The next token (EOF forever after the input or an error).
    pub(crate) fn next_item(&mut self) -> Item {
        self.item = None;
        if self.state == State::Done {
            self.emit(Tok::EOF);
        } else {
            while self.item.is_none() {
                self.state = self.step(self.state);
                if self.state == State::Done && self.item.is_none() {
                    self.emit(Tok::EOF);
                }
            }
        }
        self.item.take().unwrap_or(Item {
            typ: Tok::EOF,
            pos: self.start,
            val: String::new(),
        })
    }

    fn step(&mut self, s: State) -> State {
        match s {
            State::Statements => self.statements(),
            State::InsideBraces => self.inside_braces(),
            State::String => self.string(),
            State::RawString => self.raw_string(),
            State::Escape => self.escape(),
            State::Space => self.space(),
            State::LineComment => self.line_comment(),
            State::NumberOrDuration => self.number_or_duration(),
            State::KeywordOrIdentifier => self.keyword_or_identifier(),
            State::Identifier => self.identifier(),
            State::DurationExpr => self.duration_expr(),
            State::Done => State::Done,
        }
    }

    fn statements(&mut self) -> State {
        if self.brace_open {
            return State::InsideBraces;
        }
        if self.input[self.pos..].starts_with('#') {
            return State::LineComment;
        }
        let r = self.next();
        match r {
            EOF_CHAR => {
                if self.paren_depth != 0 {
                    return self.errorf("unclosed left parenthesis".into());
                }
                if self.bracket_open {
                    return self.errorf("unclosed left bracket".into());
                }
                self.emit(Tok::EOF);
                return State::Done;
            }
            ',' => self.emit(Tok::COMMA),
            c if is_space(c) => return State::Space,
            '*' => self.emit(Tok::MUL),
            '/' => self.emit(Tok::DIV),
            '%' => self.emit(Tok::MOD),
            '+' => self.emit(Tok::ADD),
            '-' => self.emit(Tok::SUB),
            '^' => self.emit(Tok::POW),
            '=' => match self.peek() {
                '=' => {
                    self.next();
                    self.emit(Tok::EQLC);
                }
                '~' => return self.errorf("unexpected character after '=': '~'".into()),
                _ => self.emit(Tok::EQL),
            },
            '!' => {
                let t = self.next();
                if t != '=' {
                    return self.errorf(format!(
                        "unexpected character after '!': {}",
                        go_quote_rune(t)
                    ));
                }
                self.emit(Tok::NEQ);
            }
            '<' => {
                if self.peek() == '=' {
                    self.next();
                    self.emit(Tok::LTE);
                } else {
                    self.emit(Tok::LSS);
                }
            }
            '>' => {
                if self.peek() == '=' {
                    self.next();
                    self.emit(Tok::GTE);
                } else {
                    self.emit(Tok::GTR);
                }
            }
            c if is_digit(c) || (c == '.' && is_digit(self.peek())) => {
                self.backup();
                return State::NumberOrDuration;
            }
            '"' | '\'' => {
                self.string_open = r;
                return State::String;
            }
            '`' => {
                self.string_open = r;
                return State::RawString;
            }
            c if is_alpha(c) || c == ':' => {
                if !self.bracket_open {
                    self.backup();
                    return State::KeywordOrIdentifier;
                }
                if self.got_colon {
                    return self.errorf(format!("unexpected colon {}", go_quote_rune(c)));
                }
                self.emit(Tok::COLON);
                self.got_colon = true;
            }
            '(' => {
                self.emit(Tok::LEFT_PAREN);
                self.paren_depth += 1;
            }
            ')' => {
                self.emit(Tok::RIGHT_PAREN);
                self.paren_depth -= 1;
                if self.paren_depth < 0 {
                    return self.errorf("unexpected right parenthesis ')'".into());
                }
            }
            '{' => {
                self.emit(Tok::LEFT_BRACE);
                self.brace_open = true;
                return State::InsideBraces;
            }
            '[' => {
                if self.bracket_open {
                    return self.errorf("unexpected left bracket '['".into());
                }
                self.got_colon = false;
                self.emit(Tok::LEFT_BRACKET);
                if is_space(self.peek()) {
                    self.skip_spaces();
                }
                self.bracket_open = true;
                return State::DurationExpr;
            }
            ']' => {
                if !self.bracket_open {
                    return self.errorf("unexpected right bracket ']'".into());
                }
                self.emit(Tok::RIGHT_BRACKET);
                self.bracket_open = false;
            }
            '@' => self.emit(Tok::AT),
            c => return self.errorf(format!("unexpected character: {}", go_quote_rune(c))),
        }
        State::Statements
    }

    fn inside_braces(&mut self) -> State {
        if self.input[self.pos..].starts_with('#') {
            return State::LineComment;
        }
        let r = self.next();
        match r {
            EOF_CHAR => return self.errorf("unexpected end of input inside braces".into()),
            c if is_space(c) => return State::Space,
            c if is_alpha(c) => {
                self.backup();
                return State::Identifier;
            }
            ',' => self.emit(Tok::COMMA),
            '"' | '\'' => {
                self.string_open = r;
                return State::String;
            }
            '`' => {
                self.string_open = r;
                return State::RawString;
            }
            '=' => {
                if self.next() == '~' {
                    self.emit(Tok::EQL_REGEX);
                } else {
                    self.backup();
                    self.emit(Tok::EQL);
                }
            }
            '!' => match self.next() {
                '~' => self.emit(Tok::NEQ_REGEX),
                '=' => self.emit(Tok::NEQ),
                nr => {
                    return self.errorf(format!(
                        "unexpected character after '!' inside braces: {}",
                        go_quote_rune(nr)
                    ));
                }
            },
            '{' => return self.errorf("unexpected left brace '{'".into()),
            '}' => {
                self.emit(Tok::RIGHT_BRACE);
                self.brace_open = false;
                return State::Statements;
            }
            c => {
                return self.errorf(format!(
                    "unexpected character inside braces: {}",
                    go_quote_rune(c)
                ));
            }
        }
        State::InsideBraces
    }

    fn escape(&mut self) -> State {
        let mut ch = self.next();
        let (mut n, base, max): (u32, u32, u32) = match ch {
            'a' | 'b' | 'f' | 'n' | 'r' | 't' | 'v' | '\\' => return State::String,
            c if c == self.string_open => return State::String,
            '0'..='7' => (3, 8, 255),
            'x' => {
                ch = self.next();
                (2, 16, 255)
            }
            'u' => {
                ch = self.next();
                (4, 16, 0x10FFFF)
            }
            'U' => {
                ch = self.next();
                (8, 16, 0x10FFFF)
            }
            EOF_CHAR => {
                self.errorf("escape sequence not terminated".into());
                return State::String;
            }
            c => {
                self.errorf(format!("unknown escape sequence {}", go_unicode(c)));
                return State::String;
            }
        };
        let mut x: u32 = 0;
        while n > 0 {
            let d = ch.to_digit(16).unwrap_or(16);
            if d >= base {
                if ch == EOF_CHAR {
                    self.errorf("escape sequence not terminated".into());
                    return State::String;
                }
                self.errorf(format!(
                    "illegal character {} in escape sequence",
                    go_unicode(ch)
                ));
                return State::String;
            }
            x = x.wrapping_mul(base).wrapping_add(d);
            n -= 1;
            if n > 0 {
                ch = self.next();
            }
        }
        if x > max || (0xD800..0xE000).contains(&x) {
            self.errorf("escape sequence is an invalid Unicode code point".into());
        }
        State::String
    }

    fn skip_spaces(&mut self) {
        while is_space(self.peek()) {
            self.next();
        }
        self.ignore();
    }

    fn string(&mut self) -> State {
        loop {
            match self.next() {
                '\\' => return State::Escape,
                '\u{FFFD}' => {
                    self.errorf("invalid UTF-8 rune".into());
                    return State::String;
                }
                EOF_CHAR | '\n' => return self.errorf("unterminated quoted string".into()),
                c if c == self.string_open => break,
                _ => {}
            }
        }
        self.emit(Tok::STRING);
        State::Statements
    }

    fn raw_string(&mut self) -> State {
        loop {
            match self.next() {
                '\u{FFFD}' => {
                    self.errorf("invalid UTF-8 rune".into());
                    return State::RawString;
                }
                EOF_CHAR => {
                    self.errorf("unterminated raw string".into());
                    return State::RawString;
                }
                c if c == self.string_open => break,
                _ => {}
            }
        }
        self.emit(Tok::STRING);
        State::Statements
    }

    fn space(&mut self) -> State {
        while is_space(self.peek()) {
            self.next();
        }
        self.ignore();
        State::Statements
    }

    fn line_comment(&mut self) -> State {
        self.pos += 1;
        let mut r = self.next();
        while r != '\r' && r != '\n' && r != EOF_CHAR {
            r = self.next();
        }
        self.backup();
        self.emit(Tok::COMMENT);
        State::Statements
    }

    fn number_or_duration(&mut self) -> State {
        if self.scan_number() {
            self.emit(Tok::NUMBER);
            return State::Statements;
        }
        if self.accept_remaining_duration() {
            self.backup();
            self.emit(Tok::DURATION);
            return State::Statements;
        }
        let text = go_quote(&self.input[self.start..self.pos]);
        self.errorf(format!("bad number or duration syntax: {text}"))
    }

    fn accept_remaining_duration(&mut self) -> bool {
        if !self.accept("smhdwy") {
            return false;
        }
        self.accept("s");
        while self.accept("0123456789") {
            while self.accept("0123456789") {}
            if !self.accept("smhdw") {
                return false;
            }
            self.accept("s");
        }
        !is_alnum(self.next())
    }

    fn scan_number(&mut self) -> bool {
        let initial = self.pos;
        let mut digits = "0123456789";
        if self.accept("0") && self.accept("xX") {
            self.accept("_");
            digits = "0123456789abcdefABCDEF";
        }
        self.accept(".");
        self.accept(digits);
        let mut dot = false;
        let mut exp = false;
        let all = format!("{digits}._eE");
        while self.is(&all) {
            if self.is(".") && dot {
                self.accept(".");
                return false;
            }
            if self.is("eE") && exp {
                self.accept("eE");
                return false;
            }
            if self.accept(".") {
                dot = true;
                if self.accept("_.") {
                    return false;
                }
                if digits.len() > 10 {
                    return false;
                }
                continue;
            }
            if self.accept("eE") {
                exp = true;
                self.accept("+-");
                if self.accept("._eE") || self.peek() == EOF_CHAR {
                    return false;
                }
                continue;
            }
            if self.accept("_") {
                if self.accept("._eE") || self.peek() == EOF_CHAR {
                    return false;
                }
                continue;
            }
            self.accept_run(digits);
        }
        if self.pos == initial {
            return false;
        }
        !is_alnum(self.peek())
    }

    fn identifier(&mut self) -> State {
        while is_alnum(self.next()) {}
        self.backup();
        self.emit(Tok::IDENTIFIER);
        State::Statements
    }

    fn keyword_or_identifier(&mut self) -> State {
        loop {
            let r = self.next();
            if is_alnum(r) || r == ':' {
                continue;
            }
            self.backup();
            let word = &self.input[self.start..self.pos];
            let t = match keyword(word) {
                Some(k) => k,
                None if !word.contains(':') => Tok::IDENTIFIER,
                None => Tok::METRIC_IDENTIFIER,
            };
            self.emit(t);
            return State::Statements;
        }
    }

    fn duration_expr(&mut self) -> State {
        let r = self.next();
        match r {
            EOF_CHAR => self.errorf("unexpected end of input in duration expression".into()),
            ']' => {
                self.emit(Tok::RIGHT_BRACKET);
                self.bracket_open = false;
                self.got_colon = false;
                State::Statements
            }
            ':' => {
                self.emit(Tok::COLON);
                if !self.got_duration {
                    return self
                        .errorf("unexpected colon before duration in duration expression".into());
                }
                if self.got_colon {
                    return self.errorf("unexpected repeated colon in duration expression".into());
                }
                self.got_colon = true;
                State::DurationExpr
            }
            '(' => {
                self.emit(Tok::LEFT_PAREN);
                self.paren_depth += 1;
                State::DurationExpr
            }
            ')' => {
                self.emit(Tok::RIGHT_PAREN);
                self.paren_depth -= 1;
                if self.paren_depth < 0 {
                    return self.errorf("unexpected right parenthesis ')'".into());
                }
                State::DurationExpr
            }
            c if is_space(c) => {
                self.skip_spaces();
                State::DurationExpr
            }
            '+' => self.emit_in_duration(Tok::ADD),
            '-' => self.emit_in_duration(Tok::SUB),
            '*' => self.emit_in_duration(Tok::MUL),
            '/' => self.emit_in_duration(Tok::DIV),
            '%' => self.emit_in_duration(Tok::MOD),
            '^' => self.emit_in_duration(Tok::POW),
            c if is_digit(c) || (c == '.' && is_digit(self.peek())) => {
                self.backup();
                self.got_duration = true;
                State::NumberOrDuration
            }
            c => self.errorf(format!(
                "unexpected character in duration expression: {}",
                go_quote_rune(c)
            )),
        }
    }

    fn emit_in_duration(&mut self, t: Tok) -> State {
        self.emit(t);
        State::DurationExpr
    }
}

/// Go's `%#U`: `U+0071 'q'` (the quoted character only when printable).
fn go_unicode(c: char) -> String {
    let c = if c == EOF_CHAR { '\u{FFFD}' } else { c };
    let code = format!("U+{:04X}", c as u32);
    if text::is_go_printable(c) {
        format!("{code} '{c}'")
    } else {
        code
    }
}

#[cfg(test)]
mod tests;
