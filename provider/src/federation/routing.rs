//! Home-realm discovery on the sign-in page: where an identifier goes, decided by its e-mail
//! domain alone (never by whether an account exists), and whether a person may use a password
//! here at all (the change-password and forgot-password pages ask this too).

use crate::federation::connectors;
use poort_config::ConnectorKind;
use poort_federation::Connector;
use poort_federation::realm::domain_of;
use poort_storage::{StorageError, Store};

/// Where an identifier's sign-in goes.
#[derive(Debug, Clone)]
pub enum Route {
    /// A password here (no connector signs in the domain, or a bare user name).
    Password,
    /// The directory password, typed here, checked against an LDAP connector.
    Directory(Box<Connector>),
    /// An upstream provider; `password_too` when the domain also allows a password here.
    Upstream { connector: Box<Connector>, password_too: bool },
}

/// The route of `identifier` (an e-mail address or a user name).
pub async fn route(store: &Store, hash_key: &[u8], identifier: &str) -> Result<Route, StorageError> {
    let Some(domain) = domain_of(identifier) else { return Ok(Route::Password) };
    Ok(match connectors::for_domain(store, hash_key, &domain).await? {
        None => Route::Password,
        Some(connector) if connector.kind() == ConnectorKind::Ldap => Route::Directory(Box::new(connector)),
        Some(connector) => {
            let password_too = connector.settings.allow_password;
            Route::Upstream { connector: Box::new(connector), password_too }
        }
    })
}

/// The connector that signs in the domain of `email` and does not allow a password beside it:
/// such people are never offered a password form, a password change or a reset.
pub async fn sso_only(store: &Store, hash_key: &[u8], email: &str) -> Result<Option<Connector>, StorageError> {
    let Some(domain) = domain_of(email) else { return Ok(None) };
    Ok(connectors::for_domain(store, hash_key, &domain).await?.filter(|c| !c.settings.allow_password))
}

/// The name of how `user` signs in, when it is not a password here: the connector they are
/// linked through, or the one their domain must use. `None` for password users.
pub async fn federated_method(store: &Store, hash_key: &[u8], user: &poort_storage::repo::UserRecord) -> Result<Option<String>, StorageError> {
    if user.auth_method != crate::accounts::PASSWORD_METHOD {
        let name = match connectors::load(store, hash_key, &user.auth_method).await? {
            Some(connector) => connector.settings.display_name().to_string(),
            None => user.auth_method.clone(),
        };
        return Ok(Some(name));
    }
    Ok(sso_only(store, hash_key, &user.email).await?.map(|c| c.settings.display_name().to_string()))
}
