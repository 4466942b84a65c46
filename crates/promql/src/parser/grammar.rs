//! Prometheus 3.5's PromQL grammar (`promql/parser/generated_parser.y`),
//! written out as data for our LALR(1) table builder. The rules, their order
//! and the precedences are Prometheus's, because together with the parser
//! generator's conflict resolution they decide where a syntax error is
//! detected and which error rule reports it. The series-description and
//! metric start symbols are kept for the same reason (they share states with
//! expressions), though only expressions are parsed.
//!
//! Format: `lhs: alt | alt ;` where an alternative is symbols, an optional
//! `%prec TOKEN` and an optional `=action` naming what its reduction does
//! (none: the value of its first symbol, or nothing for an empty rule).

/// Operator precedence, lowest first: (associativity, tokens).
pub(super) const PRECEDENCE: &[(Assoc, &[&str])] = &[
    (Assoc::Left, &["LOR"]),
    (Assoc::Left, &["LAND", "LUNLESS"]),
    (Assoc::Left, &["EQLC", "GTE", "GTR", "LSS", "LTE", "NEQ"]),
    (Assoc::Left, &["ADD", "SUB"]),
    (Assoc::Left, &["MUL", "DIV", "MOD", "ATAN2"]),
    (Assoc::Right, &["POW"]),
    (Assoc::Nonassoc, &["OFFSET"]),
    (Assoc::Right, &["LEFT_BRACKET"]),
];

/// Associativity of a precedence level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Assoc {
    Left,
    Right,
    Nonassoc,
}

pub(super) const GRAMMAR: &str = r"
start
    : START_METRIC metric
    | START_SERIES_DESCRIPTION series_description
    | START_EXPRESSION EOF =no_expression
    | START_EXPRESSION expr =result
    | START_METRIC_SELECTOR vector_selector
    | start EOF
    | error =unexpected
    ;
expr
    : aggregate_expr | binary_expr | function_call | matrix_selector
    | number_duration_literal | offset_expr | paren_expr | string_literal
    | subquery_expr | unary_expr | vector_selector | step_invariant_expr
    | duration_expr
    ;
aggregate_expr
    : aggregate_op aggregate_modifier function_call_body =agg_modifier_first
    | aggregate_op function_call_body aggregate_modifier =agg_modifier_last
    | aggregate_op function_call_body =agg
    | aggregate_op error =agg_error
    ;
aggregate_modifier
    : BY grouping_labels =by
    | WITHOUT grouping_labels =without
    ;
binary_expr
    : expr ADD bin_modifier expr =binary
    | expr ATAN2 bin_modifier expr =binary
    | expr DIV bin_modifier expr =binary
    | expr EQLC bin_modifier expr =binary
    | expr GTE bin_modifier expr =binary
    | expr GTR bin_modifier expr =binary
    | expr LAND bin_modifier expr =binary
    | expr LOR bin_modifier expr =binary
    | expr LSS bin_modifier expr =binary
    | expr LTE bin_modifier expr =binary
    | expr LUNLESS bin_modifier expr =binary
    | expr MOD bin_modifier expr =binary
    | expr MUL bin_modifier expr =binary
    | expr NEQ bin_modifier expr =binary
    | expr POW bin_modifier expr =binary
    | expr SUB bin_modifier expr =binary
    ;
bin_modifier : group_modifiers ;
bool_modifier
    : =no_bool
    | BOOL =bool
    ;
on_or_ignoring
    : bool_modifier IGNORING grouping_labels =ignoring
    | bool_modifier ON grouping_labels =on
    ;
group_modifiers
    : bool_modifier
    | on_or_ignoring
    | on_or_ignoring GROUP_LEFT maybe_grouping_labels =group_left
    | on_or_ignoring GROUP_RIGHT maybe_grouping_labels =group_right
    ;
grouping_labels
    : LEFT_PAREN grouping_label_list RIGHT_PAREN =second
    | LEFT_PAREN grouping_label_list COMMA RIGHT_PAREN =second
    | LEFT_PAREN RIGHT_PAREN =no_labels
    | error =grouping_opts_error
    ;
grouping_label_list
    : grouping_label_list COMMA grouping_label =label_append
    | grouping_label =label_one
    | grouping_label_list error =grouping_list_error
    ;
grouping_label
    : maybe_label =grouping_label
    | STRING =grouping_label_string
    | error =grouping_label_error
    ;
function_call : IDENTIFIER function_call_body =call ;
function_call_body
    : LEFT_PAREN function_call_args RIGHT_PAREN =second
    | LEFT_PAREN RIGHT_PAREN =no_args
    ;
function_call_args
    : function_call_args COMMA expr =arg_append
    | expr =arg_one
    | function_call_args COMMA =trailing_comma
    ;
paren_expr : LEFT_PAREN expr RIGHT_PAREN =paren ;
positive_duration_expr : duration_expr =positive_duration ;
offset_expr
    : expr OFFSET offset_duration_expr =offset
    | expr OFFSET error =offset_error
    ;
step_invariant_expr
    : expr AT signed_or_unsigned_number =at
    | expr AT at_modifier_preprocessors LEFT_PAREN RIGHT_PAREN =at_preprocessor
    | expr AT error =at_error
    ;
at_modifier_preprocessors : START | END ;
matrix_selector : expr LEFT_BRACKET positive_duration_expr RIGHT_BRACKET =matrix ;
subquery_expr
    : expr LEFT_BRACKET positive_duration_expr COLON positive_duration_expr RIGHT_BRACKET =subquery
    | expr LEFT_BRACKET positive_duration_expr COLON RIGHT_BRACKET =subquery_default_step
    | expr LEFT_BRACKET positive_duration_expr COLON positive_duration_expr error =subquery_error_end
    | expr LEFT_BRACKET positive_duration_expr COLON error =subquery_error_step
    | expr LEFT_BRACKET positive_duration_expr error =subquery_error_colon
    | expr LEFT_BRACKET error =subquery_error_range
    ;
unary_expr : unary_op expr %prec MUL =unary ;
vector_selector
    : metric_identifier label_matchers =selector_name_matchers
    | metric_identifier =selector_name
    | label_matchers =selector_matchers
    ;
label_matchers
    : LEFT_BRACE label_match_list RIGHT_BRACE =matchers
    | LEFT_BRACE label_match_list COMMA RIGHT_BRACE =matchers_comma
    | LEFT_BRACE RIGHT_BRACE =no_matchers
    ;
label_match_list
    : label_match_list COMMA label_matcher =matcher_append
    | label_matcher =matcher_one
    | label_match_list error =matching_list_error
    ;
label_matcher
    : IDENTIFIER match_op STRING =matcher
    | string_identifier match_op STRING =matcher
    | string_identifier =name_matcher
    | string_identifier match_op error =matching_string_error
    | IDENTIFIER match_op error =matching_string_error
    | IDENTIFIER error =matching_op_error
    | error =matching_error
    ;
metric
    : metric_identifier label_set
    | label_set
    ;
metric_identifier
    : AVG | BOTTOMK | BY | COUNT | COUNT_VALUES | GROUP | IDENTIFIER | LAND | LOR
    | LUNLESS | MAX | METRIC_IDENTIFIER | MIN | OFFSET | QUANTILE | STDDEV | STDVAR
    | SUM | TOPK | WITHOUT | START | END | LIMITK | LIMIT_RATIO
    ;
label_set
    : LEFT_BRACE label_set_list RIGHT_BRACE
    | LEFT_BRACE label_set_list COMMA RIGHT_BRACE
    | LEFT_BRACE RIGHT_BRACE
    |
    ;
label_set_list
    : label_set_list COMMA label_set_item
    | label_set_item
    | label_set_list error
    ;
label_set_item
    : IDENTIFIER EQL STRING
    | string_identifier EQL STRING
    | string_identifier
    | IDENTIFIER EQL error
    | string_identifier EQL error
    | IDENTIFIER error
    | error
    ;
series_description : metric series_values ;
series_values
    :
    | series_values SPACE series_item
    | series_values SPACE
    | error
    ;
series_item
    : BLANK
    | BLANK TIMES uint
    | series_value
    | series_value TIMES uint
    | series_value signed_number TIMES uint
    | histogram_series_value
    | histogram_series_value TIMES uint
    | histogram_series_value ADD histogram_series_value TIMES uint
    | histogram_series_value SUB histogram_series_value TIMES uint
    ;
series_value
    : IDENTIFIER
    | number
    | signed_number
    ;
histogram_series_value
    : OPEN_HIST histogram_desc_map SPACE CLOSE_HIST
    | OPEN_HIST histogram_desc_map CLOSE_HIST
    | OPEN_HIST SPACE CLOSE_HIST
    | OPEN_HIST CLOSE_HIST
    ;
histogram_desc_map
    : histogram_desc_map SPACE histogram_desc_item
    | histogram_desc_item
    | histogram_desc_map error
    ;
histogram_desc_item
    : SCHEMA_DESC COLON int
    | SUM_DESC COLON signed_or_unsigned_number
    | COUNT_DESC COLON signed_or_unsigned_number
    | ZERO_BUCKET_DESC COLON signed_or_unsigned_number
    | ZERO_BUCKET_WIDTH_DESC COLON number
    | CUSTOM_VALUES_DESC COLON bucket_set
    | BUCKETS_DESC COLON bucket_set
    | OFFSET_DESC COLON int
    | NEGATIVE_BUCKETS_DESC COLON bucket_set
    | NEGATIVE_OFFSET_DESC COLON int
    | COUNTER_RESET_HINT_DESC COLON counter_reset_hint
    ;
bucket_set
    : LEFT_BRACKET bucket_set_list SPACE RIGHT_BRACKET
    | LEFT_BRACKET bucket_set_list RIGHT_BRACKET
    ;
bucket_set_list
    : bucket_set_list SPACE signed_or_unsigned_number
    | signed_or_unsigned_number
    | bucket_set_list error
    ;
counter_reset_hint : UNKNOWN_COUNTER_RESET | COUNTER_RESET | NOT_COUNTER_RESET | GAUGE_TYPE ;
aggregate_op
    : AVG | BOTTOMK | COUNT | COUNT_VALUES | GROUP | MAX | MIN | QUANTILE | STDDEV
    | STDVAR | SUM | TOPK | LIMITK | LIMIT_RATIO
    ;
maybe_label
    : AVG | BOOL | BOTTOMK | BY | COUNT | COUNT_VALUES | GROUP | GROUP_LEFT | GROUP_RIGHT
    | IDENTIFIER | IGNORING | LAND | LOR | LUNLESS | MAX | METRIC_IDENTIFIER | MIN | OFFSET
    | ON | QUANTILE | STDDEV | STDVAR | SUM | TOPK | START | END | ATAN2 | LIMITK | LIMIT_RATIO
    ;
unary_op : ADD | SUB ;
match_op : EQL | NEQ | EQL_REGEX | NEQ_REGEX ;
number_duration_literal
    : NUMBER =number_literal
    | DURATION =duration_literal
    ;
number
    : NUMBER =number
    | DURATION =duration
    ;
signed_number
    : ADD number =second
    | SUB number =negate
    ;
signed_or_unsigned_number : number | signed_number ;
uint : NUMBER ;
int
    : SUB uint
    | uint
    ;
string_literal : STRING =string_literal ;
string_identifier : STRING =string_identifier ;
maybe_grouping_labels
    : =no_labels
    | grouping_labels
    ;
offset_duration_expr
    : number_duration_literal =offset_literal
    | unary_op number_duration_literal =offset_signed_literal
    | duration_expr
    ;
duration_expr
    : number_duration_literal =duration_number
    | unary_op duration_expr %prec MUL =duration_unary
    | duration_expr ADD duration_expr =duration_binary
    | duration_expr SUB duration_expr =duration_binary
    | duration_expr MUL duration_expr =duration_binary
    | duration_expr DIV duration_expr =duration_binary
    | duration_expr MOD duration_expr =duration_binary
    | duration_expr POW duration_expr =duration_binary
    | paren_duration_expr
    ;
paren_duration_expr : LEFT_PAREN duration_expr RIGHT_PAREN =duration_paren ;
";
