//! Tokens the provider signs: the JWT signing seam over the key ring, and the hashes that bind
//! tokens together (`at_hash`, `c_hash`, `s_hash`).

pub mod access_token;
pub mod id_token;
pub mod jwt;
pub mod verify;
