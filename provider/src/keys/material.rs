//! Key material: generating signing keys, naming them (RFC 7638 thumbprints), sealing private
//! keys at rest, and turning stored rows back into signers.

use crate::crypto::{b64url, sha256};
use josekit::jwe::{self, Dir, JweHeader};
use josekit::jwk::Jwk;
use josekit::jwk::alg::ed::EdCurve;
use josekit::jws::{ES256, EdDSA, JwsSigner, PS256, RS256};
use serde_json::{Map, Value};

/// RSA modulus size for RS256 and PS256 keys.
const RSA_BITS: u32 = 2048;
/// Prefix of a private key stored encrypted, to tell it from a plain JWK (which starts with `{`).
const SEALED_PREFIX: &str = "jwe:";

#[derive(Debug, thiserror::Error)]
pub enum MaterialError {
    #[error("unsupported signing algorithm {0}")]
    UnsupportedAlgorithm(String),
    #[error("{0}")]
    Jose(#[from] josekit::JoseError),
    #[error("the key is stored encrypted but keys.encryption_secret is not set")]
    SealedWithoutSecret,
    #[error("the key cannot be decrypted with the configured keys.encryption_secret")]
    WrongSecret,
    #[error("{0}")]
    Malformed(String),
}

/// A freshly generated key pair: the private JWK (with kid, use, alg) and its public half.
pub struct GeneratedKey {
    pub kid: String,
    pub alg: String,
    pub private_jwk: Jwk,
    pub public_jwk: Jwk,
}

/// Generates a key for `alg` and names it by its thumbprint.
pub fn generate(alg: &str) -> Result<GeneratedKey, MaterialError> {
    let private = match alg {
        "RS256" => RS256.generate_key_pair(RSA_BITS)?.to_jwk_key_pair(),
        "PS256" => PS256.generate_key_pair(RSA_BITS)?.to_jwk_key_pair(),
        "ES256" => ES256.generate_key_pair()?.to_jwk_key_pair(),
        "EdDSA" => EdDSA.generate_key_pair(EdCurve::Ed25519)?.to_jwk_key_pair(),
        other => return Err(MaterialError::UnsupportedAlgorithm(other.to_string())),
    };
    let mut public = private.to_public_key()?;
    let kid = thumbprint(&public)?;
    public.set_key_id(&kid);
    public.set_key_use("sig");
    public.set_algorithm(alg);
    let mut private_jwk = private;
    private_jwk.set_key_id(&kid);
    private_jwk.set_key_use("sig");
    private_jwk.set_algorithm(alg);
    Ok(GeneratedKey { kid, alg: alg.to_string(), private_jwk, public_jwk: public })
}

/// The RFC 7638 JWK thumbprint (SHA-256, base64url): unique for distinct key material, so
/// it makes a `kid` that no two keys share.
pub fn thumbprint(public: &Jwk) -> Result<String, MaterialError> {
    let required: &[&str] = match public.key_type() {
        "RSA" => &["e", "kty", "n"],
        "EC" => &["crv", "kty", "x", "y"],
        "OKP" => &["crv", "kty", "x"],
        other => return Err(MaterialError::Malformed(format!("unknown key type {other}"))),
    };
    // Members in lexicographic order, no white space. `required` is sorted, so this holds
    // whether serde_json's Map sorts its keys or keeps insertion order.
    let mut members = Map::new();
    for name in required {
        let value = public
            .parameter(name)
            .ok_or_else(|| MaterialError::Malformed(format!("public key lacks `{name}`")))?;
        members.insert((*name).to_string(), value.clone());
    }
    Ok(b64url(&sha256(Value::Object(members).to_string().as_bytes())))
}

/// The key that seals private keys at rest, derived from the configured secret.
#[derive(Clone)]
pub struct SealingKey([u8; 32]);

impl SealingKey {
    pub fn from_secret(secret: &str) -> Self {
        Self(sha256(format!("poort signing-key sealing v1\0{secret}").as_bytes()))
    }
}

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey(…)")
    }
}

/// The private key as stored: a plain JWK, or with a sealing key a compact JWE (dir, A256GCM).
pub fn seal(private: &Jwk, sealing: Option<&SealingKey>) -> Result<String, MaterialError> {
    let json = serde_json::to_string(private.as_ref()).map_err(|e| MaterialError::Malformed(e.to_string()))?;
    match sealing {
        None => Ok(json),
        Some(key) => {
            let mut header = JweHeader::new();
            header.set_content_encryption("A256GCM");
            let encrypter = Dir.encrypter_from_bytes(key.0)?;
            Ok(format!("{SEALED_PREFIX}{}", jwe::serialize_compact(json.as_bytes(), &header, &encrypter)?))
        }
    }
}

/// Reads a stored private key back.
pub fn unseal(stored: &str, sealing: Option<&SealingKey>) -> Result<Jwk, MaterialError> {
    let json = match stored.strip_prefix(SEALED_PREFIX) {
        None => stored.as_bytes().to_vec(),
        Some(compact) => {
            let key = sealing.ok_or(MaterialError::SealedWithoutSecret)?;
            let decrypter = Dir.decrypter_from_bytes(key.0)?;
            jwe::deserialize_compact(compact, &decrypter).map_err(|_| MaterialError::WrongSecret)?.0
        }
    };
    Jwk::from_bytes(&json).map_err(|e| MaterialError::Malformed(format!("not a JWK: {e}")))
}

/// A signer for a private JWK of algorithm `alg`: ES256 through ring; RSA and EdDSA through
/// OpenSSL (josekit), made at their first signature (see [`OnFirstSignature`]).
pub fn signer(alg: &str, private: &Jwk) -> Result<Box<dyn JwsSigner>, MaterialError> {
    Ok(match alg {
        "ES256" => Box::new(RingEs256::from_jwk(private)?),
        "RS256" | "PS256" | "EdDSA" => Box::new(OnFirstSignature::new(alg, private)?),
        other => return Err(MaterialError::UnsupportedAlgorithm(other.to_string())),
    })
}

/// The bytes of a JWK's base64url member `name`, if it is there and decodes.
fn decoded_member(jwk: &Jwk, name: &str) -> Option<Vec<u8>> {
    let value = jwk.parameter(name).and_then(Value::as_str)?;
    base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, value).ok()
}

/// The members of a private key of `alg` that OpenSSL is given, with the length each must
/// decode to (`None`: any non-empty length).
fn private_members(alg: &str) -> &'static [(&'static str, Option<usize>)] {
    match alg {
        "EdDSA" => &[("x", Some(32)), ("d", Some(32))],
        _ => &[("n", None), ("e", None), ("d", None), ("p", None), ("q", None), ("dp", None), ("dq", None), ("qi", None)],
    }
}

/// An OpenSSL signer (RS256, PS256, EdDSA) made at its first signature, then kept.
///
/// Why: initialising OpenSSL and decoding a key through it touches megabytes of its code, which
/// then stay mapped; an idle Poort, or one that signs only with ES256, need not pay for them.
/// The key's type and members are checked here, at load, so a malformed stored key still stops
/// the start, as the eager signer did. Clones share the one signer.
#[derive(Clone)]
struct OnFirstSignature {
    alg: &'static str,
    private: std::sync::Arc<Jwk>,
    signature_len: usize,
    signer: std::sync::Arc<std::sync::OnceLock<Result<Box<dyn JwsSigner>, String>>>,
}

impl OnFirstSignature {
    fn new(alg: &str, private: &Jwk) -> Result<Self, MaterialError> {
        let (alg, key_type): (&'static str, &str) = match alg {
            "RS256" => ("RS256", "RSA"),
            "PS256" => ("PS256", "RSA"),
            "EdDSA" => ("EdDSA", "OKP"),
            other => return Err(MaterialError::UnsupportedAlgorithm(other.to_string())),
        };
        if private.key_type() != key_type || (alg == "EdDSA" && private.curve() != Some("Ed25519")) {
            return Err(MaterialError::Malformed(format!("the {alg} key must be an {key_type} key")));
        }
        let mut signature_len = 64;
        for &(name, length) in private_members(alg) {
            let bytes = decoded_member(private, name)
                .filter(|bytes| !bytes.is_empty() && length.is_none_or(|length| bytes.len() == length))
                .ok_or_else(|| MaterialError::Malformed(format!("the {alg} key lacks a valid `{name}`")))?;
            if name == "n" {
                signature_len = bytes.len();
            }
        }
        Ok(Self {
            alg,
            private: std::sync::Arc::new(private.clone()),
            signature_len,
            signer: Default::default(),
        })
    }

    fn openssl_signer(&self) -> Result<&dyn JwsSigner, josekit::JoseError> {
        let made = self.signer.get_or_init(|| {
            let signer: Result<Box<dyn JwsSigner>, josekit::JoseError> = match self.alg {
                "RS256" => OpenSslRs256::from_jwk(&self.private).map(|s| Box::new(s) as Box<dyn JwsSigner>),
                "PS256" => PS256.signer_from_jwk(&self.private).map(|s| Box::new(s) as Box<dyn JwsSigner>),
                _ => EdDSA.signer_from_jwk(&self.private).map(|s| Box::new(s) as Box<dyn JwsSigner>),
            };
            signer.map_err(|e| e.to_string())
        });
        match made {
            Ok(signer) => Ok(signer.as_ref()),
            Err(e) => Err(josekit::JoseError::InvalidKeyFormat(anyhow::anyhow!("the {} key: {e}", self.alg))),
        }
    }
}

impl std::fmt::Debug for OnFirstSignature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnFirstSignature").field("alg", &self.alg).field("key_id", &self.key_id()).finish_non_exhaustive()
    }
}

impl JwsSigner for OnFirstSignature {
    fn algorithm(&self) -> &dyn josekit::jws::JwsAlgorithm {
        match self.alg {
            "RS256" => &RS256,
            "PS256" => &PS256,
            _ => &EdDSA,
        }
    }

    fn key_id(&self) -> Option<&str> {
        self.private.key_id()
    }

    fn signature_len(&self) -> usize {
        self.signature_len
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, josekit::JoseError> {
        self.openssl_signer()?.sign(message)
    }

    fn box_clone(&self) -> Box<dyn JwsSigner> {
        Box::new(self.clone())
    }
}

/// An RS256 signer on OpenSSL's RSA key itself: RSASSA-PKCS1-v1_5 (RFC 8017 §8.2.1) is the
/// private-key operation on the SHA-256 `DigestInfo` with type-1 padding, which
/// `RSA_private_encrypt` does with the key's blinding and the check of its result, as OpenSSL's
/// own `RSA_sign` does. What is left out is the EVP layer around it: josekit's signer looks up
/// the algorithm in OpenSSL's provider store and builds a context for every signature. The
/// signatures are the same bytes (PKCS#1 v1.5 is deterministic).
struct OpenSslRs256 {
    key: openssl::rsa::Rsa<openssl::pkey::Private>,
    key_id: Option<String>,
}

/// The DER `DigestInfo` prefix for SHA-256 (RFC 8017 §9.2, note 1).
const SHA256_DIGEST_INFO: [u8; 19] = [0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20];

impl OpenSslRs256 {
    /// The key from its JWK members, checked by OpenSSL (`RSA_check_key`): members that do
    /// not make one key would otherwise give signatures nobody can verify.
    fn from_jwk(private: &Jwk) -> Result<Self, josekit::JoseError> {
        let invalid = |why: String| josekit::JoseError::InvalidKeyFormat(anyhow::anyhow!(why));
        let member = |name: &str| {
            decoded_member(private, name)
                .and_then(|bytes| openssl::bn::BigNum::from_slice(&bytes).ok())
                .ok_or_else(|| invalid(format!("the RS256 key lacks a valid `{name}`")))
        };
        let key = openssl::rsa::Rsa::from_private_components(
            member("n")?,
            member("e")?,
            member("d")?,
            member("p")?,
            member("q")?,
            member("dp")?,
            member("dq")?,
            member("qi")?,
        )
        .map_err(|e| invalid(format!("OpenSSL refuses the RS256 key: {e}")))?;
        if !key.check_key().unwrap_or(false) {
            return Err(invalid("the RS256 key's members do not make one RSA key".into()));
        }
        Ok(Self { key, key_id: private.key_id().map(str::to_string) })
    }
}

impl std::fmt::Debug for OpenSslRs256 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenSslRs256").field("key_id", &self.key_id).finish_non_exhaustive()
    }
}

impl JwsSigner for OpenSslRs256 {
    fn algorithm(&self) -> &dyn josekit::jws::JwsAlgorithm {
        &RS256
    }

    fn key_id(&self) -> Option<&str> {
        self.key_id.as_deref()
    }

    fn signature_len(&self) -> usize {
        self.key.size() as usize
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, josekit::JoseError> {
        let mut digest_info = SHA256_DIGEST_INFO.to_vec();
        digest_info.extend_from_slice(&sha256(message));
        let mut signature = vec![0; self.key.size() as usize];
        let len = self
            .key
            .private_encrypt(&digest_info, &mut signature, openssl::rsa::Padding::PKCS1)
            .map_err(|e| josekit::JoseError::InvalidSignature(anyhow::anyhow!("RS256 signing failed: {e}")))?;
        signature.truncate(len);
        Ok(signature)
    }

    fn box_clone(&self) -> Box<dyn JwsSigner> {
        // Not reached: `OnFirstSignature` clones share the one signer it keeps.
        Box::new(Self { key: self.key.clone(), key_id: self.key_id.clone() })
    }
}

/// An ES256 signer on ring: the fixed-length `r || s` signature JWS wants, without the DER
/// round trip and the per-signature OpenSSL setup of josekit's signer.
#[derive(Clone)]
struct RingEs256 {
    key: std::sync::Arc<ring::signature::EcdsaKeyPair>,
    key_id: Option<String>,
}

impl RingEs256 {
    fn from_jwk(private: &Jwk) -> Result<Self, MaterialError> {
        let member = |name: &str| {
            decoded_member(private, name)
                .ok_or_else(|| MaterialError::Malformed(format!("the ES256 key lacks a valid `{name}`")))
        };
        if private.key_type() != "EC" || private.curve() != Some("P-256") {
            return Err(MaterialError::Malformed("an ES256 key must be an EC key on P-256".into()));
        }
        let mut public = vec![0x04];
        public.extend(member("x")?);
        public.extend(member("y")?);
        let key = ring::signature::EcdsaKeyPair::from_private_key_and_public_key(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &member("d")?,
            &public,
            &ring::rand::SystemRandom::new(),
        )
        .map_err(|e| MaterialError::Malformed(format!("not a P-256 key pair: {e}")))?;
        Ok(Self { key: std::sync::Arc::new(key), key_id: private.key_id().map(str::to_string) })
    }
}

impl std::fmt::Debug for RingEs256 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RingEs256").field("key_id", &self.key_id).finish_non_exhaustive()
    }
}

impl JwsSigner for RingEs256 {
    fn algorithm(&self) -> &dyn josekit::jws::JwsAlgorithm {
        &ES256
    }

    fn key_id(&self) -> Option<&str> {
        self.key_id.as_deref()
    }

    fn signature_len(&self) -> usize {
        64
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, josekit::JoseError> {
        let signature = self
            .key
            .sign(&ring::rand::SystemRandom::new(), message)
            .map_err(|e| josekit::JoseError::InvalidSignature(anyhow::anyhow!("ES256 signing failed: {e}")))?;
        Ok(signature.as_ref().to_vec())
    }

    fn box_clone(&self) -> Box<dyn JwsSigner> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_algorithm_generates_a_named_public_key_without_private_parts() {
        for alg in ["RS256", "PS256", "ES256", "EdDSA"] {
            let key = generate(alg).unwrap();
            assert_eq!(key.public_jwk.key_id(), Some(key.kid.as_str()));
            assert_eq!(key.public_jwk.algorithm(), Some(alg));
            assert_eq!(key.public_jwk.key_use(), Some("sig"));
            assert!(key.public_jwk.parameter("d").is_none(), "{alg} public key leaks d");
            assert_eq!(thumbprint(&key.public_jwk).unwrap(), key.kid);
            signer(alg, &key.private_jwk).unwrap().sign(b"x").unwrap();
        }
    }

    #[test]
    fn es256_signatures_verify_with_the_public_key_and_keys_must_be_p256() {
        let key = generate("ES256").unwrap();
        let signer = signer("ES256", &key.private_jwk).unwrap();
        assert_eq!(signer.key_id(), Some(key.kid.as_str()));
        let signature = signer.sign(b"header.payload").unwrap();
        assert_eq!(signature.len(), 64, "r || s, not DER");
        let verifier = ES256.verifier_from_jwk(&key.public_jwk).unwrap();
        verifier.verify(b"header.payload", &signature).unwrap();
        assert!(verifier.verify(b"header.payloaD", &signature).is_err());
        let mut other_curve = key.private_jwk.clone();
        other_curve.set_parameter("crv", Some(Value::String("P-384".into()))).unwrap();
        assert!(matches!(signer_result("ES256", &other_curve), Err(MaterialError::Malformed(_))));
        let mut wrong_d = key.private_jwk.clone();
        wrong_d.set_parameter("d", Some(Value::String(b64url(&[7u8; 32])))).unwrap();
        assert!(matches!(signer_result("ES256", &wrong_d), Err(MaterialError::Malformed(_))), "d must match x and y");
    }

    #[test]
    fn openssl_signers_verify_with_the_public_key_and_malformed_keys_stop_the_load() {
        for (alg, members) in [("RS256", 8), ("PS256", 8), ("EdDSA", 2)] {
            let key = generate(alg).unwrap();
            let signer = signer(alg, &key.private_jwk).unwrap();
            assert_eq!(signer.key_id(), Some(key.kid.as_str()));
            assert_eq!(signer.algorithm().name(), alg);
            let first = signer.sign(b"header.payload").unwrap();
            assert_eq!(first.len(), signer.signature_len(), "{alg}");
            let clone = signer.box_clone();
            let second = clone.sign(b"header.payload").unwrap();
            let verifier = |signature: &[u8], message: &[u8]| match alg {
                "RS256" => RS256.verifier_from_jwk(&key.public_jwk).unwrap().verify(message, signature),
                "PS256" => PS256.verifier_from_jwk(&key.public_jwk).unwrap().verify(message, signature),
                _ => EdDSA.verifier_from_jwk(&key.public_jwk).unwrap().verify(message, signature),
            };
            for signature in [&first, &second] {
                verifier(signature, b"header.payload").unwrap();
                assert!(verifier(signature, b"header.payloaD").is_err(), "{alg}");
            }
            assert_eq!(private_members(alg).len(), members);
            for &(name, _) in private_members(alg) {
                let mut missing = key.private_jwk.clone();
                missing.set_parameter(name, None).unwrap();
                assert!(matches!(signer_result(alg, &missing), Err(MaterialError::Malformed(_))), "{alg} without {name}");
                let mut empty = key.private_jwk.clone();
                empty.set_parameter(name, Some(Value::String(String::new()))).unwrap();
                assert!(matches!(signer_result(alg, &empty), Err(MaterialError::Malformed(_))), "{alg} with an empty {name}");
            }
        }
        let mut short = generate("EdDSA").unwrap().private_jwk;
        short.set_parameter("d", Some(Value::String(b64url(&[1u8; 31])))).unwrap();
        assert!(matches!(signer_result("EdDSA", &short), Err(MaterialError::Malformed(_))), "an Ed25519 d has 32 bytes");
        let ec = generate("ES256").unwrap();
        assert!(matches!(signer_result("RS256", &ec.private_jwk), Err(MaterialError::Malformed(_))), "an EC key is no RSA key");
        let rsa = generate("RS256").unwrap();
        assert!(matches!(signer_result("EdDSA", &rsa.private_jwk), Err(MaterialError::Malformed(_))), "an RSA key is no Ed25519 key");
    }

    #[test]
    fn a_key_that_openssl_refuses_fails_each_signature_with_a_key_error() {
        let mut key = generate("RS256").unwrap().private_jwk;
        // Well-formed members, but no RSA key: OpenSSL refuses it at the first signature.
        key.set_parameter("n", Some(Value::String(b64url(&[0u8; 8])))).unwrap();
        let signer = signer("RS256", &key).unwrap();
        for _ in 0..2 {
            assert!(matches!(signer.sign(b"x"), Err(josekit::JoseError::InvalidKeyFormat(_))));
        }
    }

    #[test]
    fn rs256_signatures_are_the_bytes_of_openssls_evp_signer() {
        let key = generate("RS256").unwrap();
        let ours = signer("RS256", &key.private_jwk).unwrap();
        let evp = RS256.signer_from_jwk(&key.private_jwk).unwrap();
        for message in [&b""[..], b"header.payload", &[0xffu8; 5000][..]] {
            let signature = ours.sign(message).unwrap();
            assert_eq!(signature, evp.sign(message).unwrap());
            assert_eq!(signature.len(), 256);
        }
    }

    #[test]
    fn an_rsa_key_whose_members_disagree_is_refused_at_the_first_signature() {
        let key = generate("RS256").unwrap().private_jwk;
        let other = generate("RS256").unwrap().private_jwk;
        // Well-formed, but this p belongs to another modulus.
        let mut mixed = key.clone();
        mixed.set_parameter("p", other.parameter("p").cloned()).unwrap();
        let signer = signer("RS256", &mixed).unwrap();
        assert!(matches!(signer.sign(b"x"), Err(josekit::JoseError::InvalidKeyFormat(_))));
    }

    fn signer_result(alg: &str, jwk: &Jwk) -> Result<(), MaterialError> {
        signer(alg, jwk).map(drop)
    }

    #[test]
    fn thumbprint_matches_rfc7638_example() {
        // RFC 7638 §3.1.
        let jwk = Jwk::from_bytes(br#"{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}"#).unwrap();
        assert_eq!(thumbprint(&jwk).unwrap(), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    }

    #[test]
    fn sealed_keys_need_the_same_secret() {
        let key = generate("ES256").unwrap();
        let secret = SealingKey::from_secret("a secret that is long enough for us");
        let stored = seal(&key.private_jwk, Some(&secret)).unwrap();
        assert!(stored.starts_with(SEALED_PREFIX));
        assert!(!stored.contains(key.private_jwk.parameter("d").unwrap().as_str().unwrap()));
        assert_eq!(unseal(&stored, Some(&secret)).unwrap(), key.private_jwk);
        assert!(matches!(unseal(&stored, None), Err(MaterialError::SealedWithoutSecret)));
        let other = SealingKey::from_secret("another secret that is long enough!");
        assert!(matches!(unseal(&stored, Some(&other)), Err(MaterialError::WrongSecret)));
        let plain = seal(&key.private_jwk, None).unwrap();
        assert_eq!(unseal(&plain, Some(&secret)).unwrap(), key.private_jwk);
    }
}
