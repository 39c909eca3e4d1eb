//! Federation: upstream connectors (from the configuration, the CLI or the admin API), the
//! e-mail domains each signs in (unique: a domain has one home), and the state of sign-ins in
//! flight upstream (single use, bound to the browser, readable by every node).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0007_connectors"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("connectors")
                .if_not_exists()
                .col(string("id").primary_key())
                .col(string("kind"))
                .col(json("settings"))
                .col(text_null("secrets_sealed"))
                .col(string("source"))
                .col(big_integer("created_at"))
                .col(big_integer("updated_at"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("connector_domains")
                .if_not_exists()
                .col(string("domain").primary_key())
                .col(string("connector_id"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("connector_domains_connector").table("connector_domains").col("connector_id").if_not_exists().to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("federation_states")
                .if_not_exists()
                .col(string("state_hash").primary_key())
                .col(string("binding_hash"))
                .col(string("connector_id"))
                .col(text("payload"))
                .col(big_integer("created_at"))
                .col(big_integer("expires_at"))
                .col(big_integer_null("consumed_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("federation_states_expires").table("federation_states").col("expires_at").if_not_exists().to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in ["federation_states", "connector_domains", "connectors"] {
            m.drop_table(Table::drop().table(table).if_exists().to_owned()).await?;
        }
        Ok(())
    }
}
