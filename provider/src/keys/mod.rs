//! The provider's signing keys: created on first start, shared by every node through the
//! database, rotated on a schedule (with pre-publication and a retirement window) or by hand,
//! and held in memory so that signing and the JWKS never touch the database.
//!
//! Architecture Invariant: two nodes that start (or rotate) at once end up with one key per
//! algorithm and generation — the database decides, through `insert_generation`'s claim row.

pub mod material;

use material::{MaterialError, SealingKey};
use poort_storage::repo::{NewSigningKey, SigningKeyRecord, Supersede};
use poort_storage::{Store, StorageError, now};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// How keys live: which algorithms, how often they rotate, how long retired keys stay published.
#[derive(Debug, Clone)]
pub struct KeyPolicy {
    pub algorithms: Vec<String>,
    /// Zero: rotate only by hand.
    pub rotation_interval: Duration,
    /// A retired key stays in the JWKS this long, so every token it signed can still be verified.
    pub retirement_window: Duration,
    pub sealing: Option<SealingKey>,
}

impl KeyPolicy {
    pub fn from_settings(settings: &poort_config::Settings) -> Self {
        Self {
            algorithms: settings.signing_algorithms(),
            rotation_interval: settings.keys.rotation_interval,
            // A minute of margin for clock skew between nodes.
            retirement_window: settings.tokens.longest_signed_lifetime() + Duration::from_secs(60),
            sealing: settings.keys.encryption_secret.as_deref().map(SealingKey::from_secret),
        }
    }

    /// How long before it starts signing a scheduled key is published: RPs that cache the JWKS
    /// see it before the first token it signs.
    fn prepublication(&self) -> i64 {
        (self.rotation_interval / 4).min(Duration::from_secs(24 * 3600)).as_secs() as i64
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{0}")]
    Storage(#[from] StorageError),
    #[error("signing key {kid} is unusable: {source}")]
    Corrupt { kid: String, source: MaterialError },
    #[error("cannot generate a {alg} key: {source}")]
    Generate { alg: String, source: MaterialError },
    #[error("no {0} signing key is active")]
    NoSigningKey(String),
}

/// A key loaded for use.
pub struct LoadedKey {
    pub record: SigningKeyRecord,
    pub signer: Box<dyn josekit::jws::JwsSigner>,
}

/// A consistent snapshot of the published keys, with the JWKS document pre-serialized.
pub struct KeySet {
    pub keys: Vec<LoadedKey>,
    pub jwks_json: bytes::Bytes,
}

impl KeySet {
    /// The key that signs `alg` at `at`: the newest active one.
    pub fn signing_key(&self, alg: &str, at: i64) -> Option<&LoadedKey> {
        self.keys
            .iter()
            .filter(|k| k.record.alg == alg && k.record.signs_at(at))
            .max_by_key(|k| (k.record.active_from, k.record.created_at))
    }
}

/// The shared, hot-swappable key set.
pub struct Keyring {
    store: Store,
    policy: KeyPolicy,
    current: RwLock<Arc<KeySet>>,
}

impl Keyring {
    /// Makes sure every algorithm has a current key (creating the first ones on a new database),
    /// then loads the key set.
    pub async fn open(store: Store, policy: KeyPolicy) -> Result<Arc<Self>, KeyError> {
        ensure_current(&store, &policy, now()).await?;
        let set = load(&store, &policy).await?;
        Ok(Arc::new(Self { store, policy, current: RwLock::new(Arc::new(set)) }))
    }

    pub fn snapshot(&self) -> Arc<KeySet> {
        self.current.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn algorithms(&self) -> &[String] {
        &self.policy.algorithms
    }

    /// Runs scheduled rotation and picks up keys other nodes created.
    pub async fn refresh(&self) -> Result<(), KeyError> {
        ensure_current(&self.store, &self.policy, now()).await?;
        let set = load(&self.store, &self.policy).await?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(set);
        Ok(())
    }

    /// Keeps the key set fresh until the process ends.
    pub fn spawn_refresher(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let keyring = Arc::clone(self);
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(every);
            ticker.tick().await;
            loop {
                ticker.tick().await;
                if let Err(error) = keyring.refresh().await {
                    tracing::error!(%error, "refreshing the signing keys failed; keeping the current set");
                }
            }
        })
    }
}

impl Keyring {
    /// Reloads the key set whenever the process receives SIGHUP, so that a rotation by
    /// `poort keys rotate` (or any change in the database) takes effect on this node at once
    /// instead of at the next scheduled refresh.
    #[cfg(unix)]
    pub fn reload_on_hangup(self: &Arc<Self>) -> std::io::Result<tokio::task::JoinHandle<()>> {
        let mut hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
        let keyring = Arc::clone(self);
        Ok(tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                match keyring.refresh().await {
                    Ok(()) => tracing::info!("reloaded the signing keys (SIGHUP)"),
                    Err(error) => tracing::error!(%error, "reloading the signing keys failed; keeping the current set"),
                }
            }
        }))
    }
}

/// Rotates every algorithm now (`poort keys rotate`): the new keys sign at once, the old ones
/// stay published for the retirement window. Returns the new kids.
pub async fn rotate_now(store: &Store, policy: &KeyPolicy, only: Option<&str>) -> Result<Vec<String>, KeyError> {
    let at = now();
    let all = store.keys().all().await?;
    let mut created = Vec::new();
    for alg in policy.algorithms.iter().filter(|a| only.is_none_or(|o| o == a.as_str())) {
        let generation = all.iter().filter(|k| &k.alg == alg).count() + 1;
        let supersede = Supersede { retire_at: at, unpublish_at: at + policy.retirement_window.as_secs() as i64 };
        if let Some(kid) = create_key(store, policy, alg, generation, at, Some(supersede)).await? {
            created.push(kid);
        }
    }
    Ok(created)
}

/// Creates what is missing: a first key for an algorithm that has none signing, and the next
/// key of a schedule that is due (pre-published ahead of its start).
async fn ensure_current(store: &Store, policy: &KeyPolicy, at: i64) -> Result<(), KeyError> {
    let all = store.keys().all().await?;
    for alg in &policy.algorithms {
        let of_alg: Vec<&SigningKeyRecord> = all.iter().filter(|k| &k.alg == alg).collect();
        let generation = of_alg.len() + 1;
        let current = of_alg.iter().filter(|k| k.signs_at(at)).max_by_key(|k| k.active_from);
        let pending = of_alg.iter().any(|k| k.active_from > at && k.retired_at.is_none());
        match current {
            None if !pending => {
                create_key(store, policy, alg, generation, at, None).await?;
            }
            Some(current) if !pending && !policy.rotation_interval.is_zero() => {
                let interval = policy.rotation_interval.as_secs() as i64;
                let starts = (current.active_from + interval).max(at);
                if starts - policy.prepublication() <= at {
                    let supersede = Supersede {
                        retire_at: starts,
                        unpublish_at: starts + policy.retirement_window.as_secs() as i64,
                    };
                    create_key(store, policy, alg, generation, starts, Some(supersede)).await?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Generates and stores generation `generation` of `alg`; `None` when another node got there first.
async fn create_key(
    store: &Store,
    policy: &KeyPolicy,
    alg: &str,
    generation: usize,
    active_from: i64,
    supersede: Option<Supersede>,
) -> Result<Option<String>, KeyError> {
    // RSA generation is CPU work of tens of milliseconds: keep it off the async workers.
    let (alg_owned, sealing) = (alg.to_string(), policy.sealing.clone());
    let (generated, stored_private) = tokio::task::spawn_blocking(move || {
        let generated = material::generate(&alg_owned)?;
        let stored = material::seal(&generated.private_jwk, sealing.as_ref())?;
        Ok::<_, MaterialError>((generated, stored))
    })
    .await
    .map_err(|e| KeyError::Generate { alg: alg.to_string(), source: MaterialError::Malformed(e.to_string()) })?
    .map_err(|source| KeyError::Generate { alg: alg.to_string(), source })?;
    let public = serde_json::to_value(generated.public_jwk.as_ref())
        .map_err(|e| KeyError::Generate { alg: alg.to_string(), source: MaterialError::Malformed(e.to_string()) })?;
    let key = NewSigningKey {
        kid: generated.kid.clone(),
        alg: alg.to_string(),
        private_jwk: stored_private,
        public_jwk: public,
        active_from,
    };
    let stored = store.keys().insert_generation(&format!("{alg}#{generation}"), key, supersede).await?;
    if stored {
        tracing::info!(kid = %generated.kid, alg, generation, "created a signing key");
    }
    Ok(stored.then_some(generated.kid))
}

/// Loads and checks every published key; one unusable row stops the load with its kid named.
async fn load(store: &Store, policy: &KeyPolicy) -> Result<KeySet, KeyError> {
    let records = store.keys().published().await?;
    let mut keys = Vec::with_capacity(records.len());
    let mut public = Vec::with_capacity(records.len());
    for record in records {
        let corrupt = |source| KeyError::Corrupt { kid: record.kid.clone(), source };
        let private = material::unseal(&record.private_jwk, policy.sealing.as_ref()).map_err(corrupt)?;
        // Publish what the private key really is, and refuse a row whose material is not the
        // key its kid names.
        let mut public_jwk = private.to_public_key().map_err(|e| corrupt(e.into()))?;
        if material::thumbprint(&public_jwk).map_err(corrupt)? != record.kid {
            return Err(corrupt(MaterialError::Malformed("the key material does not match its kid".into())));
        }
        public_jwk.set_key_id(&record.kid);
        public_jwk.set_key_use("sig");
        public_jwk.set_algorithm(&record.alg);
        let signer = material::signer(&record.alg, &private).map_err(corrupt)?;
        public.push(serde_json::Value::Object(public_jwk.as_ref().clone()));
        keys.push(LoadedKey { record, signer });
    }
    let jwks = serde_json::json!({ "keys": public });
    Ok(KeySet { keys, jwks_json: bytes::Bytes::from(jwks.to_string()) })
}
