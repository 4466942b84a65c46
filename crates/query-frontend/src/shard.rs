//! Vertical sharding (Thanos's `querysharding` analyzer): whether a query's
//! output series can be computed from disjoint sets of input series, split
//! by a hash of some labels, and which labels (`by`) or which not
//! (`without`). Each shard is then asked with Thanos's `shard_info`
//! parameter; the querier only selects the series of its shard.

use std::collections::BTreeSet;

use aeon_promql::Expr;

/// Shard by (`by == true`) or without these labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ShardBy {
    pub(crate) by: bool,
    pub(crate) labels: Vec<String>,
}

/// Thanos's `QueryAnalysis`: `None` until a grouping is seen.
#[derive(Debug, Default)]
struct Scope(Option<(bool, BTreeSet<String>)>);

impl Scope {
    /// `scopeToLabels`: narrows the labels to what every grouping allows.
    fn scope(&mut self, labels: &[String], by: bool) {
        let new: BTreeSet<String> = labels.iter().cloned().collect();
        self.0 = Some(match self.0.take() {
            None => (by, new),
            Some((true, cur)) if by => (true, cur.intersection(&new).cloned().collect()),
            Some((false, cur)) if !by => (false, cur.union(&new).cloned().collect()),
            Some((cur_by, cur)) => {
                let (by_set, without_set) = if cur_by { (cur, new) } else { (new, cur) };
                (true, by_set.difference(&without_set).cloned().collect())
            }
        });
    }
}

/// How `e` can be sharded; `None` when it cannot.
pub(crate) fn analyse(e: &Expr) -> Option<ShardBy> {
    let mut scope = Scope::default();
    let mut dynamic: Vec<String> = Vec::new();
    if !walk(e, &mut scope, &mut dynamic) {
        return None;
    }
    if !dynamic.is_empty() {
        scope.scope(&dynamic, false);
    }
    let (by, labels) = scope.0?;
    (!labels.is_empty()).then(|| ShardBy {
        by,
        labels: labels.into_iter().collect(),
    })
}

/// Pre-order walk; `false` when a node makes the query unshardable.
fn walk(e: &Expr, scope: &mut Scope, dynamic: &mut Vec<String>) -> bool {
    match e {
        Expr::Number(..) | Expr::String(..) | Expr::Vector(_) | Expr::Matrix { .. } => true,
        Expr::Subquery { expr, .. }
        | Expr::Neg(expr, _)
        | Expr::Plus(expr, _)
        | Expr::Paren(expr, _) => walk(expr, scope, dynamic),
        Expr::Binary {
            lhs, rhs, matching, ..
        } => {
            if let Some(m) = matching {
                let mut labels = m.labels.clone();
                if !m.on {
                    labels.push("__name__".into());
                }
                scope.scope(&labels, m.on);
            }
            walk(lhs, scope, dynamic) && walk(rhs, scope, dynamic)
        }
        Expr::Aggregate {
            expr,
            param,
            grouping,
            without,
            ..
        } => {
            scope.scope(grouping, !*without);
            param.as_ref().is_none_or(|p| walk(p, scope, dynamic)) && walk(expr, scope, dynamic)
        }
        Expr::Call { func, args, .. } => {
            match func.name {
                "label_join" | "label_replace" => {
                    if let Some(Expr::String(dst, _)) = args.get(1).map(Expr::unparen) {
                        dynamic.push(dst.clone());
                    }
                }
                "absent_over_time" | "absent" | "scalar" => return false,
                "histogram_quantile" => scope.scope(&["le".to_string()], false),
                _ => {}
            }
            args.iter().all(|a| walk(a, scope, dynamic))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard(q: &str) -> Option<(bool, Vec<&'static str>)> {
        let e = aeon_promql::parse(q).unwrap();
        analyse(&e).map(|s| {
            (
                s.by,
                s.labels
                    .into_iter()
                    .map(|l| &*Box::leak(l.into_boxed_str()))
                    .collect(),
            )
        })
    }

    #[test]
    fn shards_like_thanos() {
        assert_eq!(
            shard("sum by (job) (rate(x[5m]))"),
            Some((true, vec!["job"]))
        );
        assert_eq!(shard("sum without (pod) (x)"), Some((false, vec!["pod"])));
        assert_eq!(shard("sum(x)"), None);
        assert_eq!(shard("rate(x[5m])"), None);
        assert_eq!(
            shard("histogram_quantile(0.9, sum by (le, handler) (rate(b[5m])))"),
            Some((true, vec!["handler"]))
        );
        // Nested groupings narrow the labels.
        assert_eq!(
            shard("max by (a) (sum by (a, b) (x))"),
            Some((true, vec!["a"]))
        );
        assert_eq!(shard("max by (c) (sum by (a, b) (x))"), None);
        // Vector matching: on(...) shards by those labels, else without
        // __name__.
        assert_eq!(
            shard("sum by (i) (a) / on (i) sum by (i, j) (b)"),
            Some((true, vec!["i"]))
        );
        assert_eq!(shard("a / b"), Some((false, vec!["__name__"])));
        assert_eq!(shard("a + on () group_left sum(b)"), None);
        assert_eq!(shard("a * 2"), None);
        // Functions that cannot be sharded, and labels made by the query.
        assert_eq!(shard("absent(sum by (a) (x))"), None);
        assert_eq!(shard("scalar(sum by (a) (x))"), None);
        assert_eq!(
            shard(r#"label_replace(sum by (a, h) (x), "h", "$1", "a", "(.*)")"#),
            Some((true, vec!["a"]))
        );
        assert_eq!(
            shard(r#"label_replace(x, "h", "$1", "a", "(.*)")"#),
            Some((false, vec!["h"]))
        );
    }
}
