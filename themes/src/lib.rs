//! Poort's page and mail templates, static assets and message catalogs (en, nl).
//!
//! Empty so far: the hosted pages arrive with the sign-in experience ("The hosted sign-in
//! experience and the account lifecycle"). Only this crate will know templates.
