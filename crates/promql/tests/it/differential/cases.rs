//! Differences the differential tests found (and the known ones),
//! each fixed and kept as a named case: the named query must get
//! Prometheus 3.5's exact answer (checked against the live Prometheus by
//! `differential_named_cases_equal_prometheus`).

use super::compare::Eval;
use super::data::T0;

pub const T: i64 = T0 + 90 * 60_000;

/// (name, query, evaluation).
pub const CASES: &[(&str, &str, Eval)] = &[
    ("unclosed_paren", "sum(", Eval::Instant(T)),
    ("unclosed_brace", "up{job=", Eval::Instant(T)),
    (
        "unclosed_paren_after_range",
        "rate(up[5m]",
        Eval::Instant(T),
    ),
    ("bad_number", "1x", Eval::Instant(T)),
    ("repeated_colon", "foo[5m:1m:]", Eval::Instant(T)),
    ("info_non_selector", "info(up, sum(up))", Eval::Instant(T)),
    ("info_number", "info(up, 1)", Eval::Instant(T)),
    ("unary_precedence", "-2^---1*3", Eval::Instant(T)),
    ("unary_plus_vector", "+up", Eval::Instant(T)),
    (
        "unary_plus_keeps_name",
        "+http_requests_total{code=\"200\"}",
        Eval::Instant(T),
    ),
    ("name_in_braces", "{__name__=\"up\"}", Eval::Instant(T)),
    ("at_item_description", "up @ @", Eval::Instant(T)),
    ("empty_query", "", Eval::Instant(T)),
    ("regex_missing_paren", "up{job=~\"(\"}", Eval::Instant(T)),
    ("string_plus_number", "\"a\" + 1", Eval::Instant(T)),
    (
        "aggregation_without_parens",
        "sum by (job) up",
        Eval::Instant(T),
    ),
    (
        "rate_of_gauge_position",
        "sum(rate(queue_depth[5m]))",
        Eval::Instant(T),
    ),
    ("topk_ties", "topk(2, up)", Eval::Instant(T)),
    ("bottomk_ties", "bottomk(3, up)", Eval::Instant(T)),
    (
        "topk_ties_range",
        "topk(1, up)",
        Eval::Range(T, T + 600_000, 60_000),
    ),
    (
        "subquery_of_range_vector",
        "up[5m][10m:1m]",
        Eval::Instant(T),
    ),
    (
        "duration_expression_negative",
        "rate(up[1m-2m])",
        Eval::Instant(T),
    ),
    // Found by the random differential test (seed 1):
    (
        "duplicate_pair_later_first",
        "http_requests_total / on(job) http_requests_total",
        Eval::Instant(T),
    ),
    (
        "binop_empty_lhs_no_matching_error",
        "{__name__=~\"http_.*\", mode=\"user\"} / {__name__=~\"http_.*\", instance=\"a:1\"}",
        Eval::Instant(T),
    ),
    (
        "binop_empty_rhs_no_matching_error",
        "{job=\"web\"} < bool on() group_right() http_requests_total{mode=\"idle\"}",
        Eval::Range(T, T + 600_000, 60_000),
    ),
    (
        "name_dropped_at_once_then_same_labelset",
        "-{__name__=\"http_request_duration_seconds_sum\", job=\"api\"} and stddev_over_time({job=\"api\"}[5m])",
        Eval::Instant(T),
    ),
    (
        "name_dropped_at_once_in_range_function",
        "sum(rate({__name__=~\"http_request_duration_seconds_(sum|count)\"}[5m]))",
        Eval::Range(T, T + 600_000, 60_000),
    ),
    (
        "name_dropped_at_once_before_matching",
        "-ln({__name__=~\"http_.*\"}) < bool ignoring() up",
        Eval::Instant(T),
    ),
    (
        "sort_by_label_of_topk_zero_over_same_labelset",
        "sort_by_label_desc(topk(0, -{job=\"web\"}) by (), \"job\")",
        Eval::Instant(T),
    ),
    (
        "topk_ties_many",
        "topk(5, sgn(http_requests_total))",
        Eval::Instant(T),
    ),
    (
        "bottomk_ties_grouped",
        "bottomk by (job) (2, sgn(http_requests_total))",
        Eval::Instant(T),
    ),
    (
        "topk_ties_over_twelve_pdqsort",
        "topk(14, sgn(http_requests_total))",
        Eval::Instant(T),
    ),
];
