//! The initial schema: every aggregate Poort stores.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0001_initial"
    }
}

/// A table whose primary key is one text column.
fn keyed(table: &'static str, key: &'static str) -> TableCreateStatement {
    Table::create().table(table).if_not_exists().col(string(key).primary_key()).to_owned()
}

fn index(table: &'static str, name: &'static str, cols: &[&'static str], unique: bool) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table).if_not_exists();
    for col in cols {
        index.col(*col);
    }
    if unique {
        index.unique();
    }
    index.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // Instance-wide values shared by every node: the token-hashing key, the key-set marker.
        m.create_table(keyed("instance_values", "name").col(text("value")).col(big_integer("created_at")).to_owned()).await?;

        m.create_table(
            keyed("users", "id")
                .col(string("email"))
                .col(boolean("email_verified"))
                .col(string_null("username"))
                .col(string_null("display_name"))
                .col(json("claims"))
                .col(string("status"))
                .col(string("auth_method"))
                .col(text_null("password_hash"))
                .col(big_integer("failed_logins").default(0))
                .col(big_integer_null("locked_until"))
                .col(big_integer_null("activated_at"))
                .col(big_integer_null("activation_sent_at"))
                .col(big_integer("created_at"))
                .col(big_integer("updated_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(index("users", "users_email", &["email"], true)).await?;
        m.create_index(index("users", "users_username", &["username"], true)).await?;

        m.create_table(
            keyed("roles", "name").col(string_null("description")).col(json("permissions")).col(big_integer("created_at")).to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("user_roles")
                .if_not_exists()
                .col(string("user_id"))
                .col(string("role_name"))
                .primary_key(Index::create().col("user_id").col("role_name"))
                .to_owned(),
        )
        .await?;

        m.create_table(
            keyed("clients", "client_id")
                .col(text_null("secret_hash"))
                .col(text_null("secret_sealed"))
                .col(big_integer("secret_expires_at").default(0))
                .col(json("metadata"))
                .col(string("source"))
                .col(text_null("registration_token_hash"))
                .col(big_integer("created_at"))
                .col(big_integer("updated_at"))
                .to_owned(),
        )
        .await?;

        m.create_table(
            keyed("grants", "id")
                .col(string("client_id"))
                .col(string_null("user_id"))
                .col(string_null("session_id"))
                .col(text("scope"))
                .col(json_null("claims"))
                .col(big_integer_null("auth_time"))
                .col(big_integer("created_at"))
                .col(big_integer("expires_at"))
                .col(big_integer_null("revoked_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(index("grants", "grants_user", &["user_id"], false)).await?;
        m.create_index(index("grants", "grants_expires", &["expires_at"], false)).await?;

        m.create_table(
            keyed("authorization_codes", "code_hash")
                .col(string("grant_id"))
                .col(string("client_id"))
                .col(string("user_id"))
                .col(string("session_id"))
                .col(text("redirect_uri"))
                .col(text("scope"))
                .col(text_null("nonce"))
                .col(text_null("code_challenge"))
                .col(string_null("code_challenge_method"))
                .col(json_null("claims"))
                .col(big_integer("auth_time"))
                .col(string_null("acr"))
                .col(json("amr"))
                .col(big_integer("created_at"))
                .col(big_integer("expires_at"))
                .col(big_integer_null("consumed_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(index("authorization_codes", "codes_expires", &["expires_at"], false)).await?;

        m.create_table(
            keyed("tokens", "token_hash")
                .col(string("kind"))
                .col(string("grant_id"))
                .col(string("client_id"))
                .col(string_null("user_id"))
                .col(text("scope"))
                .col(string_null("family_id"))
                .col(big_integer("created_at"))
                .col(big_integer("expires_at"))
                .col(big_integer_null("rotated_at"))
                .col(big_integer_null("revoked_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(index("tokens", "tokens_grant", &["grant_id"], false)).await?;
        m.create_index(index("tokens", "tokens_family", &["family_id"], false)).await?;
        m.create_index(index("tokens", "tokens_expires", &["expires_at"], false)).await?;

        m.create_table(
            keyed("sessions", "id")
                .col(string("cookie_hash"))
                .col(string("user_id"))
                .col(big_integer("auth_time"))
                .col(json("amr"))
                .col(string_null("acr"))
                .col(big_integer("created_at"))
                .col(big_integer("last_seen_at"))
                .col(big_integer("idle_expires_at"))
                .col(big_integer("expires_at"))
                .col(big_integer_null("ended_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(index("sessions", "sessions_cookie", &["cookie_hash"], true)).await?;
        m.create_index(index("sessions", "sessions_user", &["user_id"], false)).await?;
        m.create_index(index("sessions", "sessions_expires", &["expires_at"], false)).await?;
        m.create_table(
            Table::create()
                .table("session_clients")
                .if_not_exists()
                .col(string("session_id"))
                .col(string("client_id"))
                .col(big_integer("first_seen_at"))
                .primary_key(Index::create().col("session_id").col("client_id"))
                .to_owned(),
        )
        .await?;

        m.create_table(
            keyed("one_time_tokens", "token_hash")
                .col(string("purpose"))
                .col(string("user_id"))
                .col(string_null("client_id"))
                .col(text_null("return_to"))
                .col(big_integer("created_at"))
                .col(big_integer("expires_at"))
                .col(big_integer_null("used_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(index("one_time_tokens", "one_time_user", &["user_id", "purpose"], false)).await?;

        m.create_table(
            keyed("signing_keys", "kid")
                .col(string("alg"))
                .col(text("private_jwk"))
                .col(json("public_jwk"))
                .col(big_integer("created_at"))
                .col(big_integer("active_from"))
                .col(big_integer_null("retired_at"))
                .col(big_integer_null("unpublish_at"))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("consents")
                .if_not_exists()
                .col(string("user_id"))
                .col(string("client_id"))
                .col(text("scope"))
                .col(json_null("claims"))
                .col(big_integer("granted_at"))
                .primary_key(Index::create().col("user_id").col("client_id"))
                .to_owned(),
        )
        .await?;

        m.create_table(
            keyed("terms_versions", "id")
                .col(string_null("client_id"))
                .col(string("version"))
                .col(text("body"))
                .col(big_integer("published_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(index("terms_versions", "terms_scope_version", &["client_id", "version"], true)).await?;
        m.create_table(
            Table::create()
                .table("terms_acceptances")
                .if_not_exists()
                .col(string("user_id"))
                .col(string("terms_id"))
                .col(big_integer("accepted_at"))
                .primary_key(Index::create().col("user_id").col("terms_id"))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("federated_identities")
                .if_not_exists()
                .col(string("connector"))
                .col(string("subject"))
                .col(string("user_id"))
                .col(string_null("email"))
                .col(big_integer("linked_at"))
                .col(big_integer_null("last_login_at"))
                .primary_key(Index::create().col("connector").col("subject"))
                .to_owned(),
        )
        .await?;
        m.create_index(index("federated_identities", "federated_user", &["user_id"], false)).await?;

        m.create_table(
            keyed("audit_events", "id")
                .col(big_integer("at"))
                .col(string("kind"))
                .col(string_null("user_id"))
                .col(string_null("client_id"))
                .col(string_null("ip"))
                .col(json("detail"))
                .to_owned(),
        )
        .await?;
        m.create_index(index("audit_events", "audit_at", &["at"], false)).await?;
        m.create_index(index("audit_events", "audit_user", &["user_id"], false)).await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "audit_events",
            "federated_identities",
            "terms_acceptances",
            "terms_versions",
            "consents",
            "signing_keys",
            "one_time_tokens",
            "session_clients",
            "sessions",
            "tokens",
            "authorization_codes",
            "grants",
            "clients",
            "user_roles",
            "roles",
            "users",
            "instance_values",
        ] {
            m.drop_table(Table::drop().table(table).if_exists().to_owned()).await?;
        }
        Ok(())
    }
}
