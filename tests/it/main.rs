//! The one integration test binary: each module covers one part of the tool.

mod sandbox;
