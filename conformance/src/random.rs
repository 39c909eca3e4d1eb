//! Random values the suite sends: alphanumeric state and nonce, the long state with the URL-safe
//! punctuation, PKCE verifiers.

const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

pub fn bytes(n: usize) -> Vec<u8> {
    let mut out = vec![0u8; n];
    getrandom::fill(&mut out).expect("the system's random source");
    out
}

/// `n` characters from [A-Za-z0-9].
pub fn alphanumeric(n: usize) -> String {
    let mut out = String::with_capacity(n);
    while out.len() < n {
        for byte in bytes(n) {
            // 62 * 4 = 248: reject the top values so each character is equally likely.
            if byte < 248 && out.len() < n {
                out.push(ALPHANUMERIC[(byte % 62) as usize] as char);
            }
        }
    }
    out
}

/// The suite's 128-character state: alphanumerics ending in the four unreserved punctuation
/// characters, so an OP that mangles them is caught.
pub fn long_state() -> String {
    format!("{}-._~", alphanumeric(124))
}

#[cfg(test)]
mod tests {
    #[test]
    fn lengths_and_alphabets() {
        let s = super::alphanumeric(43);
        assert_eq!(s.len(), 43);
        assert!(s.chars().all(|c| c.is_ascii_alphanumeric()));
        let long = super::long_state();
        assert_eq!(long.len(), 128);
        assert!(long.ends_with("-._~"));
    }
}
