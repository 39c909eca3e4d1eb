//! Small HTTP helpers the browser-facing endpoints share: cookies, HTML escaping, security
//! headers for pages, CORS for the endpoints browser applications call.

pub mod cookies;
pub mod cors;
pub mod csrf;
pub mod html;
pub mod pages;
