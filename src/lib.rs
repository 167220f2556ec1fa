//! kili-rules native core: the Kili label model, rule kinds and batch validation.
//! Nothing below `python/` knows about Python; `cargo test` covers the core alone.

pub mod batch;
pub mod error;
pub mod geometry;
pub mod label;
pub mod rules;
pub mod ruleset;

#[cfg(feature = "python")]
mod python;

// Labels read under the GIL are freed on worker threads; glibc's malloc handles that
// cross-thread traffic badly (bench/analysis.md), mimalloc well.
#[cfg(feature = "python")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
