#![allow(clippy::collapsible_if, clippy::collapsible_match)]
//! PromQL for Aeon (layer L1): a parser ([`parse`]: Prometheus 3.5's grammar
//! on an LALR(1) automaton, with its error texts), a printer ([`Expr`]'s
//! `Display` and [`Expr::pretty`], byte for byte Prometheus's) and an evaluation
//! [`Engine`] matching Prometheus 3.5 semantics (a server's: names dropped at
//! once unless [`EngineOpts::delayed_name_removal`]), reading series through
//! the [`Queryable`] trait. [`promqltest`] runs Prometheus's own `.test`
//! scripts against the engine; `tests/it/differential.rs` compares random
//! queries with a real Prometheus.
//!
//! Entry points: [`Engine::instant_query`], [`Engine::range_query`],
//! [`Engine::exec`] with [`QueryParams`]; results are [`QueryResult`]s holding
//! a [`Value`] and [`Annotation`]s.
//!
//! # Memory model
//!
//! [`Queryable::select`] returns the matching series with lazy chunk
//! iterators; the engine decodes samples chunk by chunk and keeps only what
//! evaluation needs:
//!
//! - A range function over a plain range selector in a range query (e.g.
//!   `rate(x[5m])`, also inside aggregations and binary operations) is
//!   computed series by series: one series' samples stream through a window,
//!   so at most one window of one series is held, plus the results (one value
//!   per series and step). An aggregation without parameter (`sum`, `avg`,
//!   `count`, `min`, `max`, `group`, `stddev`, `stdvar`) of such a result is
//!   computed for all steps at once, holding one value per group and step.
//! - An instant selector evaluated at the query's steps keeps, per series, only
//!   the samples some step reads: at most one per step (one for instant
//!   queries).
//! - Not bounded this way: selectors inside subqueries and range selectors of
//!   range queries whose function is not one of the above (e.g. with a
//!   non-literal parameter, or over native histograms) hold all samples of
//!   their time span (in an instant query that span is one window); every
//!   selected series' labels are held; the result of a range query and the
//!   vectors of one step are held.
//!
//! [`EngineOpts::max_samples`] limits the samples held at once (loaded
//! selector data, precomputed range-function results, the current step's
//! vectors and the accumulated result), failing with Prometheus's error
//! "query processing would load too many samples into memory in query
//! execution"; [`EngineOpts::timeout`] and [`QueryParams::cancel`] are checked
//! between steps and every 256 series while loading.

#![warn(unreachable_pub)]

mod aggregate;
pub mod ast;
mod binary;
mod engine;
mod error;
pub mod functions;
mod gosort;
mod histogram;
mod info;
mod lexer;
pub mod nativehist;
mod parser;
mod printer;
pub mod promqltest;
mod storage;
mod value;

pub use ast::{Expr, ValueType};
pub use engine::{Engine, EngineOpts, QueryParams, QueryResult};
pub use error::{Error, Result};
pub use lexer::parse_duration;
pub use nativehist::FloatHistogram;
pub use parser::parse;
pub use storage::{Chunk, MemStorage, Queryable, SelectHints, SelectedSeries};
pub use value::{
    Annotation, AnnotationKind, FPoint, HPoint, Matrix, Sample, Series, Value, Vector, format_float,
};
