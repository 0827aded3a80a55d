//! Integration tests on real node processes: one binary, one module per topic.

mod harness;

mod auth;
mod basic;
mod clients;
mod data;
mod disk;
mod failover;
mod fuzz_findings;
mod hostile;
mod malformed;
mod peer_auth;
mod proxy;
mod redis_py;
mod replicas;
mod restart;
mod tls;
mod tools;
