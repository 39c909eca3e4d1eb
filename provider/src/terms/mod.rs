//! Terms of service: which version a client's users must accept, and whether a user has.
//!
//! Versions are published per deployment and optionally per client (`poort terms publish`). A
//! client asks for terms with `requires_terms` in its registration; its own latest version wins
//! over the deployment-wide one. The authorization pipeline ([`crate::authorize`]) asks
//! [`pending`] after the role gate and before consent, and sends the user to the page in
//! [`page`] until the current version is accepted; acceptance is stored per user and version, so
//! a new version is shown again and an accepted one never is.

pub mod page;

use crate::oauth::Client;
use crate::state::AppState;
use poort_storage::StorageError;
use poort_storage::repo::{TermsVersion, UserRecord};

/// The terms that apply to `client`: its own latest version, else the deployment's; `None` when
/// the client does not require terms or nothing is published.
pub async fn current_for(state: &AppState, client: &Client) -> Result<Option<TermsVersion>, StorageError> {
    if !client.metadata.requires_terms {
        return Ok(None);
    }
    let terms = state.store.terms();
    if let Some(own) = terms.current(Some(&client.id)).await? {
        return Ok(Some(own));
    }
    terms.current(None).await
}

/// The version `user` must still accept before signing in to `client`, if any.
pub async fn pending(state: &AppState, client: &Client, user: &UserRecord) -> Result<Option<TermsVersion>, StorageError> {
    let Some(current) = current_for(state, client).await? else {
        return Ok(None);
    };
    if state.store.terms().has_accepted(&user.id, &current.id).await? {
        return Ok(None);
    }
    Ok(Some(current))
}

/// The text as the page shows it: paragraphs separated by blank lines, each paragraph's lines
/// joined with single spaces.
pub fn paragraphs(body: &str) -> Vec<String> {
    let mut paragraphs = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    for line in body.lines().map(str::trim) {
        if line.is_empty() {
            if !current.is_empty() {
                paragraphs.push(current.join(" "));
                current.clear();
            }
        } else {
            current.push(line);
        }
    }
    if !current.is_empty() {
        paragraphs.push(current.join(" "));
    }
    paragraphs
}

#[cfg(test)]
mod tests {
    use super::paragraphs;

    #[test]
    fn blank_lines_separate_paragraphs_and_line_breaks_do_not() {
        let text = "\n  First line\nstill the first.\r\n\r\n\n Second.  \n\n";
        assert_eq!(paragraphs(text), ["First line still the first.", "Second."]);
        assert!(paragraphs(" \n\n").is_empty());
    }
}
