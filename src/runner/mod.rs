//! Executing a plan: the scheduler and collector ([`engine`]), one task's requests and the
//! retry loop ([`exec`]), the state cache that spares requests ([`state`]), folder expansion
//! and planning ([`plan`]), the rate limiter, the in-flight gate and the stop state.

pub mod engine;
pub mod exec;
pub mod gate;
pub mod journal;
pub mod limiter;
pub mod plan;
pub mod state;
pub mod stop;
