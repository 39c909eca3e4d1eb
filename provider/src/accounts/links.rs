//! Single-use links by mail: a fresh 256-bit token per link, stored only as its keyed hash with
//! the purpose, the client the person came from and what to resume afterwards; every older link
//! of the same purpose stops working. The link is `<issuer><path>?token=…&lang=…`.
//!
//! [`LinkMailer`] is what sending one needs, so the server, the CLI and (later) the admin API
//! share one path. Neither tokens nor links reach a log or an error message.

use crate::StartError;
use crate::crypto::{keyed_hash, random_token};
use crate::mail::{Delivery, MailError, Mailer};
use crate::state::AppState;
use poort_config::Settings;
use poort_storage::repo::{NewOneTimeToken, OneTimePurpose, UserRecord};
use poort_storage::{StorageError, Store, now};
use poort_themes::{Locale, Theme, ThemeError};
use std::sync::Arc;

/// What issuing and mailing a link needs; cheap to clone.
#[derive(Clone)]
pub struct LinkMailer {
    pub store: Store,
    pub settings: Arc<Settings>,
    pub issuer: Arc<str>,
    pub hash_key: Arc<[u8]>,
    pub theme: Arc<Theme>,
    pub mailer: Arc<Mailer>,
}

/// Why a link could not be sent. Names neither the token nor the link.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("{0}")]
    Storage(#[from] StorageError),
    #[error("cannot render the mail: {0}")]
    Theme(#[from] ThemeError),
    #[error("{0}")]
    Mail(#[from] MailError),
}

impl LinkMailer {
    /// The server's own.
    pub fn of(state: &AppState) -> LinkMailer {
        LinkMailer {
            store: state.store.clone(),
            settings: state.settings.clone(),
            issuer: state.issuer.clone(),
            hash_key: state.hash_key.clone(),
            theme: state.theme.clone(),
            mailer: state.mailer.clone(),
        }
    }

    /// Built from the settings as `poort serve` builds its own (for the CLI).
    pub async fn open(settings: &Settings, store: Store) -> Result<LinkMailer, StartError> {
        let locale = Locale::from_tag(&settings.themes.default_locale).ok_or_else(|| {
            StartError::Theme(format!("themes.default_locale `{}` is not en or nl", settings.themes.default_locale))
        })?;
        let theme = Theme::load(settings.themes.dir.as_deref(), locale)
            .map_err(|e| StartError::Theme(format!("cannot load the theme: {e}")))?;
        let mailer = Mailer::from_settings(settings).map_err(|e| StartError::Mail(e.to_string()))?;
        let hash_key: Arc<[u8]> = crate::secrets::hash_key(&store).await?.into();
        Ok(LinkMailer {
            store,
            settings: Arc::new(settings.clone()),
            issuer: settings.issuer_string().into(),
            hash_key,
            theme: Arc::new(theme),
            mailer: Arc::new(mailer),
        })
    }
}

/// A link to send.
pub struct Link<'a> {
    pub purpose: OneTimePurpose,
    pub user: &'a UserRecord,
    /// The client the person came from (or was invited to).
    pub client_id: Option<String>,
    /// A sealed authorization ticket to resume once the password is set.
    pub return_to: Option<String>,
    pub locale: Locale,
}

/// Stores a new token for `link` (spending older ones of its purpose), renders its mail and
/// sends it to the user. Returns where the mail went.
pub async fn send(mailer: &LinkMailer, link: Link<'_>) -> Result<Delivery, LinkError> {
    let (path, mail, ttl) = match link.purpose {
        OneTimePurpose::Activation => ("/activate", "activation", mailer.settings.accounts.activation_link_ttl),
        OneTimePurpose::Reset => ("/password/reset", "reset", mailer.settings.accounts.reset_link_ttl),
    };
    let token = random_token();
    let tokens = mailer.store.one_time_tokens();
    tokens.invalidate_for_user(&link.user.id, link.purpose).await?;
    let at = now();
    tokens
        .create(NewOneTimeToken {
            token_hash: keyed_hash(&mailer.hash_key, &token),
            purpose: link.purpose,
            user_id: link.user.id.clone(),
            client_id: link.client_id.clone(),
            return_to: link.return_to,
            expires_at: at + ttl.as_secs() as i64,
        })
        .await?;
    let url = format!("{}{path}?token={token}&lang={}", mailer.issuer, link.locale.as_str());
    let data = match link.purpose {
        OneTimePurpose::Activation => {
            let client_name = match &link.client_id {
                Some(id) => crate::oauth::Client::load(&mailer.store, id)
                    .await
                    .ok()
                    .flatten()
                    .map(|client| client.display_name().to_string()),
                None => None,
            };
            serde_json::json!({
                "name": link.user.display_name,
                "user_id": link.user.username.as_deref().unwrap_or(&link.user.email),
                "client_name": client_name,
                "link": url,
                "expires_in_seconds": ttl.as_secs(),
            })
        }
        OneTimePurpose::Reset => serde_json::json!({
            "name": link.user.display_name,
            "link": url,
            "expires_in_seconds": ttl.as_secs(),
        }),
    };
    let rendered = mailer.theme.render_mail(mail, link.locale, &data)?;
    let delivery = mailer.mailer.send(&link.user.email, rendered).await?;
    if link.purpose == OneTimePurpose::Activation {
        mailer.store.users().mark_activation_sent(&link.user.id, at).await?;
    }
    Ok(delivery)
}

/// The keyed hash a token from a link is stored under; `None` for text that cannot be one of
/// our tokens (so no lookup is made for it).
pub fn token_hash(hash_key: &[u8], token: &str) -> Option<String> {
    crate::crypto::is_random_token(token).then(|| keyed_hash(hash_key, token))
}
