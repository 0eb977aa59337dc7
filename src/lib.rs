//! docspace-batch: bulk operations against an ONLYOFFICE DocSpace portal.
//!
//! The pipeline: [`cli`] (what was typed) → [`config`] (validated settings) → [`job`] (job files
//! to entries) → [`runner`] (folder expansion, planning, scheduling, rate limiting, retries over
//! the [`api`] client) → [`report`] (results.csv, access.csv, summary.json, summary.md).
//! [`sandbox`] is a simulated portal for rehearsals and tests.
#![warn(missing_docs)]

pub mod cli;
pub mod job;
pub mod sandbox;
pub mod units;
