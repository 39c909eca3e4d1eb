//! Integration tests of the provider: one test binary (link time matters), one module per
//! feature. `support` holds what they share.

mod account;
mod accounts;
mod admin;
mod attacks;
mod authorize;
mod bad_input;
mod bench;
mod browser;
mod client_removal;
mod federation;
mod cluster;
mod faults;
mod grant_fixture;
mod hybrid;
mod keys;
mod limits;
mod logout;
mod logout_channels;
mod metadata;
mod nodes;
mod postgres;
mod process;
mod registration;
mod request_uri;
mod revocation;
mod support;
mod terms;
mod token;
mod userinfo;
