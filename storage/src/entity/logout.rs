//! Back-channel logout deliveries.

pub mod logout_delivery {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "logout_deliveries")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub session_id: String,
        pub client_id: String,
        pub user_id: String,
        pub uri: String,
        pub status: String,
        pub attempts: i64,
        pub next_attempt_at: i64,
        pub lease_until: Option<i64>,
        pub last_error: Option<String>,
        pub created_at: i64,
        pub finished_at: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
