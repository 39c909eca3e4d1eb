//! Integration tests of the provider: one test binary (link time matters), one module per
//! feature. `support` holds what they share.

mod account;
mod accounts;
mod admin;
mod authorize;
mod bad_input;
mod browser;
mod client_removal;
mod federation;
mod grant_fixture;
mod hybrid;
mod keys;
mod logout;
mod logout_channels;
mod metadata;
mod postgres;
mod process;
mod registration;
mod request_uri;
mod revocation;
mod support;
mod terms;
mod token;
mod userinfo;
