//! Sandbox contract tests.
