//! Schema migrations. One set serves SQLite and PostgreSQL; they run at every start and by
//! `poort migrate`. Times are Unix seconds (`BIGINT`), which compare the same on both engines.

use sea_orm_migration::prelude::*;

mod m0001_initial;
mod m0002_replay_guard;
mod m0003_throttle;
mod m0004_username_key;
mod m0005_logout_deliveries;
mod m0007_connectors;

pub use m0004_username_key::username_key;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(m0001_initial::Migration), Box::new(m0002_replay_guard::Migration), Box::new(m0003_throttle::Migration),
            Box::new(m0004_username_key::Migration),
            Box::new(m0005_logout_deliveries::Migration),
            Box::new(m0007_connectors::Migration),
        ]
    }
}
