//! The storage contract: every repository's behaviour, asserted identically on SQLite (a file
//! and in memory) and on a real PostgreSQL server. One test binary, a module per aggregate.
//!
//! PostgreSQL comes from `POORT_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); `scripts/test` starts one. Without a
//! reachable server the `postgres::` tests fail rather than skip.

mod support;

mod audit;
mod checkpoint;
mod clients;
mod connectors;
mod consents;
mod federation;
mod flows;
mod grants;
mod in_place;
mod keys;
mod logout;
mod migrations;
mod one_time;
mod replay;
mod roles;
mod sessions;
mod terms;
mod throttle;
mod unavailable;
mod users;
