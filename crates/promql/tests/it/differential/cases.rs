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
    // Found by the random differential test (seed 2, mutations):
    (
        "paren_range_at_needs_one_sample_per_series",
        "({job=\"web\"}[1h] @ start())",
        Eval::Instant(T),
    ),
    (
        "paren_subquery_at_needs_one_sample_per_series",
        "((up[10m:1m] @ 1700001000))",
        Eval::Instant(T),
    ),
    (
        "paren_range_at_one_sample_per_series",
        "(up[1m] @ 1700001000)",
        Eval::Instant(T),
    ),
    (
        "date_functions_of_nan_and_inf_wrap_like_go",
        "days_in_month({__name__=\"special_values\"}) + day_of_week({__name__=\"special_values\"}) + year({__name__=\"special_values\"})",
        Eval::Instant(T),
    ),
    (
        "date_functions_truncate_toward_zero",
        "day_of_month(vector(-0.5)) + hour(vector(-86400.5))",
        Eval::Instant(T),
    ),
    // Found by the random differential test (seed 2):
    (
        "limit_ratio_by_prometheus_labels_hash",
        "limit_ratio(0.5, http_request_duration_seconds_bucket)",
        Eval::Range(T, T + 600_000, 60_000),
    ),
    (
        "limit_ratio_negative_by_prometheus_labels_hash",
        "limit_ratio(-0.5, -http_request_duration_seconds_count)",
        Eval::Instant(T),
    ),
    (
        "limit_ratio_warns_max_once",
        "limit_ratio(scalar(sparse_gauge{instance=\"a:1\"}) + 1, up)",
        Eval::Range(T, T + 1_800_000, 60_000),
    ),
    (
        "limit_ratio_nan_without_samples_no_error",
        "limit_ratio(NaN, no_such_metric)",
        Eval::Instant(T),
    ),
    (
        "topk_k_not_int64_without_samples_no_error",
        "topk(NaN, no_such_metric) or bottomk(1e300, no_such_metric)",
        Eval::Instant(T),
    ),
    (
        "topk_k_below_one_no_error",
        "topk(-1e300, up)",
        Eval::Instant(T),
    ),
    (
        "quantile_warns_max_and_min_once",
        "quantile(scalar(sparse_gauge{instance=\"a:1\"}) - 20, up)",
        Eval::Range(T, T + 1_800_000, 60_000),
    ),
    (
        "quantile_warns_without_input",
        "quantile(2, no_such_metric)",
        Eval::Instant(T),
    ),
    (
        "quantile_param_position_without_parens",
        "quantile((((-1))), up)",
        Eval::Instant(T),
    ),
    (
        "rate_of_subquery_info_at_query_start",
        "rate(((up))[30m:])",
        Eval::Range(T, T + 600_000, 15_000),
    ),
    (
        "increase_of_subquery_info_at_query_start",
        "(increase(up[1h:1m]))",
        Eval::Instant(T),
    ),
    (
        "rate_info_only_for_series_with_a_rate",
        "rate(sparse_gauge[1m])",
        Eval::Range(T, T + 600_000, 15_000),
    ),
    (
        "histogram_quantile_argument_positions_without_parens",
        "histogram_quantile((scalar(sparse_gauge{instance=\"a:1\"})), (queue_depth{job=\"web\"}))",
        Eval::Instant(T),
    ),
    (
        "histogram_fraction_classic_over_relabelled",
        "histogram_fraction(-1, 0.5, sort_by_label_desc({job=\"api\"}, \"le\", \"queue\")) + 0x10",
        Eval::Range(T0 + 6_864_000, T0 + 8_004_000, 15_000),
    ),
    (
        "limit_ratio_output_in_heap_order",
        "topk(1, sinh(limit_ratio(0.5, http_request_duration_seconds_sum @ end())))",
        Eval::Instant(T0 + 7_198_605),
    ),
    (
        "limitk_output_in_heap_order",
        "topk(1, sinh(limitk(5, http_request_duration_seconds_sum)))",
        Eval::Instant(T),
    ),
    // Found by the random differential test (seed 3, 100,000 queries):
    (
        "step_invariant_argument_keeps_its_parentheses",
        "histogram_quantile((0x10), (up{code!~\"2.*\"} offset 5m))",
        Eval::Instant(T),
    ),
    (
        "quantile_over_time_step_invariant_parameter_position",
        "quantile_over_time((3), node_cpu_seconds_total[10m])",
        Eval::Range(T, T + 600_000, 60_000),
    ),
    (
        "outer_aggregation_parameter_warning_wins",
        "quantile(2, (quantile(2, {__name__=\"no_such_metric\", __name__=\"special_values\"}))) by (mode, )",
        Eval::Instant(T),
    ),
    (
        "count_values_without_removes_the_value_label",
        "count_values without (le, cpu) (\"le\", node_cpu_seconds_total) * 3",
        Eval::Instant(T),
    ),
    (
        "count_values_without_name_as_value_label",
        "-count_values without (job, queue) (\"__name__\", queue_depth{code!=\"200\"})",
        Eval::Range(T, T + 600_000, 60_000),
    ),
    (
        "count_values_by_keeps_the_value_label",
        "count_values by (job) (\"cpu\", avg by (job, mode) (up))",
        Eval::Instant(T),
    ),
    (
        "clamp_max_minus_inf_wins_over_nan",
        "clamp_max(vector(scalar({job=\"web\"})), -Inf)",
        Eval::Range(T, T + 600_000, 300_000),
    ),
    (
        "clamp_min_inf_wins_over_nan",
        "-clamp_min(special_values, scalar(http_request_duration_seconds_sum{job=\"batch\"}))",
        Eval::Range(T, T + 3_000_000, 300_000),
    ),
    (
        "acosh_asinh_atanh_of_large_values",
        "acosh(special_values) + asinh(special_values) + atanh(special_values / 1e300)",
        Eval::Range(T, T + 3_000_000, 60_000),
    ),
    (
        "group_left_duplicate_after_name_drop",
        "tanh(http_request_duration_seconds_sum{cpu=\"\",job=~\"b.*\"} and http_request_duration_seconds_count) % ignoring(queue) group_right(code) {job=\"batch\"}",
        Eval::Range(T, T + 1_200_000, 15_000),
    ),
    (
        "paren_after_aggregation_error_panics_in_prometheus",
        "(sum(acos(up{__name__=\"\"})) by ))",
        Eval::Instant(T),
    ),
    (
        "call_after_aggregation_error_panics_in_prometheus",
        "-(count(queue_depth(())))",
        Eval::Instant(T),
    ),
    ("aggregation_error_at_top", "sum(x*)", Eval::Instant(T)),
    (
        "offset_nan_is_accepted",
        "{__name__=~\"http_.*\", mode!=\"user\"} offset nan",
        Eval::Range(T, T + 600_000, 15_000),
    ),
    ("offset_nan_instant", "up offset -nan", Eval::Instant(T)),
];
