//! sea-orm entities, one module per table, grouped by aggregate. Only `storage` sees these:
//! the rest of Poort talks to the repositories in `repo`.

pub mod accounts;
pub mod audit;
pub mod clients;
pub mod consents;
pub mod federation;
pub mod grants;
pub mod instance;
pub mod keys;
pub mod logout;
pub mod one_time;
pub mod replay;
pub mod sessions;
pub mod throttle;
