//! Brute-force counters: failed sign-ins and mail requests per account, user name or client
//! address, with the lock they lead to. Shared by every node, forgotten when they expire.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0003_throttle"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("throttle_counters")
                .if_not_exists()
                .col(string("key").primary_key())
                .col(big_integer("failures"))
                .col(big_integer_null("locked_until"))
                .col(big_integer("expires_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("throttle_counters_expires")
                .table("throttle_counters")
                .col("expires_at")
                .if_not_exists()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("throttle_counters").if_exists().to_owned()).await
    }
}
