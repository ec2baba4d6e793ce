//! Test harness: throwaway databases on both backends ([`db`]) and the real server on
//! `127.0.0.1:0` ([`server`]).

pub mod db;
pub mod oidc;
pub mod server;
pub mod smtp;

pub use db::{TestDb, TestDbError};
pub use server::{ManualClock, TestServer};
