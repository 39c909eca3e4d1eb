//! Grants, the authorization codes that start them and the tokens issued under them.

pub mod grant {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "grants")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub client_id: String,
        pub user_id: Option<String>,
        pub session_id: Option<String>,
        pub scope: String,
        pub claims: Option<Json>,
        pub auth_time: Option<i64>,
        pub created_at: i64,
        pub expires_at: i64,
        pub revoked_at: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod authorization_code {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "authorization_codes")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub code_hash: String,
        pub grant_id: String,
        pub client_id: String,
        pub user_id: String,
        pub session_id: String,
        pub redirect_uri: String,
        pub scope: String,
        pub nonce: Option<String>,
        pub code_challenge: Option<String>,
        pub code_challenge_method: Option<String>,
        pub claims: Option<Json>,
        pub auth_time: i64,
        pub acr: Option<String>,
        pub amr: Json,
        pub created_at: i64,
        pub expires_at: i64,
        pub consumed_at: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod token {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "tokens")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub token_hash: String,
        pub kind: String,
        pub grant_id: String,
        pub client_id: String,
        pub user_id: Option<String>,
        pub scope: String,
        pub family_id: Option<String>,
        pub created_at: i64,
        pub expires_at: i64,
        pub rotated_at: Option<i64>,
        pub revoked_at: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
