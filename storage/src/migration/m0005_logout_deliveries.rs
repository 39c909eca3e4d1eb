//! Back-channel logout deliveries (a durable outbox: every node delivers, retries survive a
//! restart) and what a person sees of each of their sessions (the browser and address that
//! started it).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0005_logout_deliveries"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("logout_deliveries")
                .if_not_exists()
                .col(string("id").primary_key())
                .col(string("session_id"))
                .col(string("client_id"))
                .col(string("user_id"))
                .col(string("uri"))
                .col(string("status"))
                .col(big_integer("attempts"))
                .col(big_integer("next_attempt_at"))
                .col(big_integer_null("lease_until"))
                .col(text_null("last_error"))
                .col(big_integer("created_at"))
                .col(big_integer_null("finished_at"))
                .to_owned(),
        )
        .await?;
        // One logout token per client per ended session, however many paths end it.
        m.create_index(
            Index::create()
                .name("logout_deliveries_session_client")
                .table("logout_deliveries")
                .col("session_id")
                .col("client_id")
                .unique()
                .if_not_exists()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("logout_deliveries_due")
                .table("logout_deliveries")
                .col("status")
                .col("next_attempt_at")
                .if_not_exists()
                .to_owned(),
        )
        .await?;
        m.alter_table(Table::alter().table("sessions").add_column(ColumnDef::new("user_agent").string().null()).to_owned())
            .await?;
        m.alter_table(Table::alter().table("sessions").add_column(ColumnDef::new("ip").string().null()).to_owned()).await?;
        // Revoking an ended session's grants, and a grant's codes, look rows up by these.
        m.create_index(Index::create().name("grants_session").table("grants").col("session_id").if_not_exists().to_owned())
            .await?;
        m.create_index(
            Index::create().name("codes_grant").table("authorization_codes").col("grant_id").if_not_exists().to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(Index::drop().name("codes_grant").table("authorization_codes").to_owned()).await?;
        m.drop_index(Index::drop().name("grants_session").table("grants").to_owned()).await?;
        m.alter_table(Table::alter().table("sessions").drop_column("ip").to_owned()).await?;
        m.alter_table(Table::alter().table("sessions").drop_column("user_agent").to_owned()).await?;
        m.drop_table(Table::drop().table("logout_deliveries").if_exists().to_owned()).await
    }
}
