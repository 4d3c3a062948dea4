//! The one integration-test binary (one link step on a 2-core machine): one module
//! per feature, all driving the real `ordo` binary on real files.

#![allow(unreachable_pub)] // test helpers are `pub` for the feature modules

mod support;

mod bench_ssh;
mod check;
mod deploy;
mod errors;
mod packages;
mod privileged;
mod resources;
mod secrets;
mod ssh;
mod transport;
mod virtualenv;
