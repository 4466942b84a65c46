#![allow(clippy::collapsible_if, clippy::collapsible_match)]
//! PromQL for Aeon (layer L1): a hand-written parser ([`parse`]) and an
//! evaluation [`Engine`] matching Prometheus 3.5 semantics, reading series
//! through the [`Queryable`] trait. [`promqltest`] runs Prometheus's own
//! `.test` scripts against the engine.
//!
//! Entry points: [`Engine::instant_query`], [`Engine::range_query`],
//! [`Engine::exec`] with [`QueryParams`]; results are [`QueryResult`]s holding
//! a [`Value`] and [`Annotation`]s.

mod aggregate;
pub mod ast;
mod binary;
mod engine;
mod error;
pub mod functions;
mod histogram;
mod info;
mod lexer;
pub mod nativehist;
mod parser;
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
