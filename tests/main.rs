//! The one integration-test binary (one link step on a 2-core machine): one module
//! per feature, all driving the real `ordo` binary on real files.

#![allow(unreachable_pub)] // test helpers are `pub` for the feature modules

mod support;

mod access;
mod bench_files;
mod bench_fleet;
mod bench_releases;
mod bench_services;
mod bench_ssh;
mod busybox;
mod check;
mod cli;
mod cron;
mod custom_steps;
mod deploy;
mod deployment;
mod docs;
mod errors;
mod fleet;
mod hardening;
mod history;
mod inputs;
mod jump_host;
mod killed;
mod layering;
mod libraries;
mod packages;
mod privileged;
mod programs;
mod recipes;
mod releases;
mod repl;
mod resources;
mod retire;
mod rpm;
mod secret_delivery;
mod secret_masking;
mod secrets;
mod ssh;
mod started;
mod systemd;
mod transport;
mod unreachable;
mod virtualenv;
mod webapp;
