//! The one integration test binary: the real CLI against sandboxes on 127.0.0.1:0.
mod audit;
mod common;
mod credentials;
mod diff;
mod docs;
mod faults;
mod fewest;
mod hostile;
mod hostile_table;
mod input;
mod layout;
mod nightly;
mod record;
mod reports;
mod runner;
mod sandbox;
mod schema;
