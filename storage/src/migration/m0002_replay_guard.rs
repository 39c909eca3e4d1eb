//! The replay guard: single-use identifiers (client-assertion `jti`s) remembered until they
//! expire, so that every node refuses a second use.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0002_replay_guard"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("replay_guard")
                .if_not_exists()
                .col(string("key").primary_key())
                .col(big_integer("expires_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("replay_guard_expires")
                .table("replay_guard")
                .col("expires_at")
                .if_not_exists()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("replay_guard").if_exists().to_owned()).await
    }
}
