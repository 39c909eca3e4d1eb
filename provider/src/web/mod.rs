//! Small HTTP helpers the browser-facing endpoints share: cookies, HTML escaping, security
//! headers for pages.

pub mod cookies;
pub mod csrf;
pub mod html;
pub mod pages;
