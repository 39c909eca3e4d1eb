//! Password hashing with Argon2id at OWASP's parameters (argon2's defaults: 19 MiB, t=2, p=1).
//! Hashing is CPU-bound for tens of milliseconds: callers on the async runtime must run it on
//! the blocking pool. New hashes come from the argon2 crate; checks run on libsodium's Argon2id
//! (a third faster here) when it takes the stored parameters, on the argon2 crate otherwise.

use argon2::password_hash::PasswordHasher as _;
use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use subtle::ConstantTimeEq as _;

/// Hashes `password` into a PHC string (`$argon2id$v=19$…`).
pub fn hash(password: &str) -> String {
    Argon2::default()
        .hash_password(password.as_bytes())
        .expect("Argon2 with default parameters and a random salt cannot fail")
        .to_string()
}

/// Checks `password` against a stored PHC string; a malformed stored hash never verifies.
pub fn verify(password: &str, stored: &str) -> bool {
    verify_in(password, stored, &mut Vec::new())
}

/// [`verify`] with `blocks` as Argon2's working memory, grown to the stored parameters' size
/// when it is smaller. The blocks' earlier contents do not matter: Argon2 writes every block
/// before it reads it.
fn verify_in(password: &str, stored: &str, blocks: &mut Vec<Block>) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else { return false };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else { return false };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm.as_str()) else { return false };
    let Ok(version) = parsed.version.map(Version::try_from).transpose() else { return false };
    let Ok(params) = Params::try_from(&parsed) else { return false };
    let version = version.unwrap_or_default();
    let mut computed = vec![0u8; expected.len()];
    let by_libsodium = algorithm == Algorithm::Argon2id
        && version == Version::V0x13
        && libsodium::argon2id(password.as_bytes(), salt.as_ref(), &params, &mut computed).is_some();
    let computed_ok = by_libsodium || {
        let needed = params.block_count();
        if blocks.len() < needed {
            blocks.resize(needed, Block::default());
        }
        let argon2 = Argon2::new(algorithm, version, params);
        argon2.hash_password_into_with_memory(password.as_bytes(), salt, &mut computed, &mut blocks[..needed]).is_ok()
    };
    computed_ok && bool::from(computed.ct_eq(expected.as_bytes()))
}

/// Argon2id through libsodium, whose code takes about two thirds of the argon2 crate's time at
/// the OWASP parameters (the same algorithm, RFC 9106, so the same output).
mod libsodium {
    use argon2::Params;
    use libsodium_sys as sodium;

    /// Fills `out` with Argon2id v1.3 of `password`; `None` for parameters libsodium does not
    /// take (a salt other than 16 bytes, more than one lane, limits out of its range) or when it
    /// fails: the caller then uses the argon2 crate.
    pub(super) fn argon2id(password: &[u8], salt: &[u8], params: &Params, out: &mut [u8]) -> Option<()> {
        let memory = usize::try_from(params.m_cost()).ok()?.checked_mul(1024)?;
        let takes = salt.len() == sodium::crypto_pwhash_SALTBYTES as usize
            && params.p_cost() == 1
            && params.t_cost() >= sodium::crypto_pwhash_argon2id_OPSLIMIT_MIN
            && memory >= sodium::crypto_pwhash_argon2id_MEMLIMIT_MIN as usize
            && out.len() >= sodium::crypto_pwhash_argon2id_BYTES_MIN as usize;
        if !takes || !initialised() {
            return None;
        }
        // SAFETY: every pointer is valid for the length passed with it, and `salt` is the
        // crypto_pwhash_SALTBYTES that libsodium reads; libsodium rejects (-1) the limits it
        // does not support.
        let status = unsafe {
            sodium::crypto_pwhash(
                out.as_mut_ptr(),
                out.len() as u64,
                password.as_ptr().cast(),
                password.len() as u64,
                salt.as_ptr(),
                u64::from(params.t_cost()),
                memory,
                sodium::crypto_pwhash_ALG_ARGON2ID13 as i32,
            )
        };
        (status == 0).then_some(())
    }

    /// `sodium_init` once (it is safe to call from any thread; later calls return 1).
    fn initialised() -> bool {
        static READY: std::sync::LazyLock<bool> =
            // SAFETY: sodium_init has no preconditions.
            std::sync::LazyLock::new(|| unsafe { sodium::sodium_init() } >= 0);
        *READY
    }
}

/// The argon2 crate's working memory kept between checks, one block list per hashing slot, for
/// the stored hashes libsodium does not take (imported ones): faulting in and zeroing a fresh
/// 19 MiB costs about a third of such a check. Released when no check has run for a while, so
/// an idle server does not keep it. (libsodium allocates its own, and frees it at once.)
#[derive(Default)]
struct Scratch {
    free: Mutex<Vec<Vec<Block>>>,
    /// When a check last gave its memory back (Unix seconds).
    last_used: AtomicI64,
}

impl Scratch {
    fn take(&self) -> Vec<Block> {
        self.free.lock().unwrap_or_else(|e| e.into_inner()).pop().unwrap_or_default()
    }

    /// Keeps `blocks` for the next check, unless a stored hash with larger parameters than
    /// ours (an imported one) grew them: that memory is not held on to.
    fn give_back(&self, blocks: Vec<Block>) {
        self.last_used.store(poort_storage::now(), Ordering::Relaxed);
        if blocks.len() <= Params::default().block_count() {
            self.free.lock().unwrap_or_else(|e| e.into_inner()).push(blocks);
        }
    }

    /// Frees the kept memory when no check has given any back for `idle`.
    fn release_if_idle(&self, idle: Duration) {
        if poort_storage::now() - self.last_used.load(Ordering::Relaxed) >= idle.as_secs() as i64 {
            let kept = std::mem::take(&mut *self.free.lock().unwrap_or_else(|e| e.into_inner()));
            drop(kept);
        }
    }
}

/// Makes the allocator give each hash's 19 MiB back to the system as soon as the hash is done.
///
/// glibc raises its mmap threshold after a large mmapped block is freed; later blocks of that
/// size then come from per-thread heaps and stay resident, 19 MiB for every blocking thread that
/// ever hashed (over 200 MiB under a sign-in burst). A fixed threshold keeps them mmapped.
/// Called once at start, before the runtime's threads exist.
pub fn release_hashing_memory_promptly() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only tunes the allocator; no other thread is allocating yet.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

/// Lowers the calling thread's scheduling priority, once per thread: hashing yields the cores to
/// the request workers, so while every core hashes, discovery and tokens are still answered
/// promptly, and hashing gets all the time the requests leave.
fn yield_to_requests() {
    #[cfg(target_os = "linux")]
    {
        thread_local!(static LOWERED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) });
        if !LOWERED.replace(true) {
            // SAFETY: gettid and setpriority have no preconditions; this changes only the calling
            // thread's nice value (Linux applies PRIO_PROCESS with a thread id to that thread).
            unsafe {
                let thread = libc::syscall(libc::SYS_gettid) as libc::id_t;
                libc::setpriority(libc::PRIO_PROCESS, thread, 10);
            }
        }
    }
}

/// Runs hashing on the blocking pool, at most `permits` at a time (the number of cores), so a
/// burst of sign-ins cannot starve the async workers; at most `max_waiting` more wait their
/// turn, and beyond that a check is refused at once ([`Busy`]: the caller answers 503) instead
/// of queueing without end. Unknown users cost the same as known ones.
#[derive(Clone)]
pub struct PasswordPool {
    permits: Arc<tokio::sync::Semaphore>,
    waiting: Arc<std::sync::atomic::AtomicUsize>,
    max_waiting: usize,
    scratch: Arc<Scratch>,
}

/// Every hashing slot is taken and the queue is full: try again shortly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

/// A hash of a password nobody knows, verified in place of a missing user's.
static DUMMY_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| hash(&crate::crypto::random_token()));

/// Counts one waiter while it lives.
struct Waiting<'a>(&'a std::sync::atomic::AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl PasswordPool {
    pub fn new(permits: usize, max_waiting: usize) -> Self {
        Self {
            permits: Arc::new(tokio::sync::Semaphore::new(permits.max(1))),
            waiting: Arc::default(),
            max_waiting,
            scratch: Arc::default(),
        }
    }

    /// Frees the hashing slots' kept memory once sign-ins have paused for `idle`, checking
    /// every `idle`, until the process ends.
    pub fn spawn_memory_release(&self, idle: Duration) -> tokio::task::JoinHandle<()> {
        let scratch = Arc::clone(&self.scratch);
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(idle);
            loop {
                ticker.tick().await;
                scratch.release_if_idle(idle);
            }
        })
    }

    /// A hashing slot, held until the permit drops: at once when one is free, after a wait in
    /// the bounded queue otherwise. (Tests hold every slot to watch the pool refuse.)
    pub async fn reserve(&self) -> Result<tokio::sync::SemaphorePermit<'_>, Busy> {
        if let Ok(permit) = self.permits.try_acquire() {
            return Ok(permit);
        }
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(Busy);
        }
        let _waiting = Waiting(&self.waiting);
        self.permits.acquire().await.map_err(|_| Busy)
    }

    /// Whether a check now would be refused: every slot taken and the queue full. Callers ask
    /// before doing any other work, so an overload is answered at the cost of a few atomics.
    pub fn saturated(&self) -> bool {
        self.permits.available_permits() == 0 && self.waiting.load(Ordering::SeqCst) >= self.max_waiting
    }

    /// Whether `password` matches `stored`; with no stored hash, burns the same time and fails.
    pub async fn verify(&self, password: String, stored: Option<String>) -> Result<bool, Busy> {
        let _slot = self.reserve().await?;
        let known = stored.is_some();
        let stored = stored.unwrap_or_else(|| DUMMY_HASH.clone());
        let scratch = Arc::clone(&self.scratch);
        let matched = tokio::task::spawn_blocking(move || {
            yield_to_requests();
            let mut blocks = scratch.take();
            let matched = verify_in(&password, &stored, &mut blocks);
            scratch.give_back(blocks);
            matched
        })
        .await
        .unwrap_or(false);
        Ok(matched && known)
    }

    /// Hashes a new password on the blocking pool, within the same bounds as verification;
    /// `None` when the pool is busy or the blocking task could not run.
    pub async fn hash(&self, password: String) -> Option<String> {
        let _slot = self.reserve().await.ok()?;
        tokio::task::spawn_blocking(move || {
            yield_to_requests();
            hash(&password)
        })
        .await
        .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_only_their_password_and_use_owasp_parameters() {
        let stored = hash("correct horse battery staple");
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{stored}");
        assert!(verify("correct horse battery staple", &stored));
        assert!(!verify("correct horse battery stapler", &stored));
        assert!(!verify("anything", "not a phc string"));
        assert_ne!(stored, hash("correct horse battery staple"), "salts must differ");
    }

    #[test]
    fn our_hashes_are_checked_by_libsodium_with_the_argon2_crates_result() {
        let stored = hash("correct horse battery staple");
        let parsed = PasswordHash::new(&stored).unwrap();
        let (salt, params) = (parsed.salt.unwrap(), Params::try_from(&parsed).unwrap());
        let mut by_crate = [0u8; 32];
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
            .hash_password_into("correct horse battery staple".as_bytes(), salt.as_ref(), &mut by_crate)
            .unwrap();
        let mut by_libsodium = [0u8; 32];
        assert_eq!(libsodium::argon2id(b"correct horse battery staple", salt.as_ref(), &params, &mut by_libsodium), Some(()));
        assert_eq!(by_libsodium, by_crate);
        assert_eq!(by_crate.as_slice(), parsed.hash.unwrap().as_bytes());
    }

    #[test]
    fn hashes_libsodium_does_not_take_are_checked_by_the_argon2_crate() {
        // Two lanes, and an 8-byte salt: both outside libsodium's crypto_pwhash.
        for (lanes, salt) in [(2, "c29tZXNhbHRzb21lc2FsdA"), (1, "c2hvcnRzYWw")] {
            let params = Params::new(1024, 1, lanes, None).unwrap();
            let salt = argon2::password_hash::phc::Salt::from_b64(salt).unwrap();
            let stored = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
                .hash_password_with_salt(b"imported", salt.as_ref())
                .unwrap()
                .to_string();
            let mut out = [0u8; 32];
            assert_eq!(libsodium::argon2id(b"imported", salt.as_ref(), &params, &mut out), None, "{stored}");
            assert!(verify("imported", &stored), "{stored}");
            assert!(!verify("imported!", &stored), "{stored}");
        }
    }

    #[test]
    fn kept_memory_gives_the_same_answers_whatever_it_held_before() {
        // Hashes libsodium does not take (two lanes here) are checked by the argon2 crate in the
        // kept memory.
        let argon2_crate = |m, password: &str| {
            Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(m, 1, 2, None).unwrap())
                .hash_password(password.as_bytes())
                .unwrap()
                .to_string()
        };
        let (small, large) = (argon2_crate(64, "small"), argon2_crate(4096, "large"));
        let mut blocks = Vec::new();
        assert!(verify_in("large", &large, &mut blocks));
        assert_eq!(blocks.len(), 4096, "grown to the stored parameters");
        // The larger memory serves the smaller hash, and a wrong password still fails after a
        // right one left its blocks behind.
        assert!(verify_in("small", &small, &mut blocks));
        assert!(!verify_in("smalL", &small, &mut blocks));
        assert!(!verify_in("largE", &large, &mut blocks));
        assert!(verify_in("large", &large, &mut blocks));
        assert!(!verify_in("owasp", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$", &mut blocks), "no expected output");
        // Our own hashes go to libsodium and leave the kept memory alone.
        let mut untouched = Vec::new();
        assert!(verify_in("owasp", &hash("owasp"), &mut untouched));
        assert!(untouched.is_empty());
    }

    #[test]
    fn kept_memory_is_released_only_after_a_pause() {
        let scratch = Scratch::default();
        scratch.give_back(vec![Block::default(); 8]);
        scratch.release_if_idle(Duration::from_secs(60));
        assert_eq!(scratch.free.lock().unwrap().len(), 1, "a check just ran");
        scratch.last_used.store(poort_storage::now() - 61, Ordering::Relaxed);
        scratch.release_if_idle(Duration::from_secs(60));
        assert!(scratch.free.lock().unwrap().is_empty());
        assert!(scratch.take().is_empty(), "a check after the release starts from nothing");
        scratch.give_back(vec![Block::default(); Params::default().block_count() + 1]);
        assert!(scratch.free.lock().unwrap().is_empty(), "memory grown past our parameters is not kept");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_refuses_at_once_and_frees_up_again() {
        let pool = PasswordPool::new(1, 1);
        let stored = hash("right");
        // One check runs, one waits: a third finds the queue full.
        let running = pool.permits.try_acquire().unwrap();
        let waiter = tokio::spawn({
            let pool = pool.clone();
            let stored = stored.clone();
            async move { pool.verify("right".into(), Some(stored)).await }
        });
        while pool.waiting.load(std::sync::atomic::Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        assert!(pool.saturated());
        assert_eq!(pool.verify("right".into(), Some(stored.clone())).await, Err(Busy));
        assert_eq!(pool.hash("new".into()).await, None);
        drop(running);
        assert_eq!(waiter.await.unwrap(), Ok(true));
        assert!(!pool.saturated());
        assert_eq!(pool.verify("wrong".into(), Some(stored)).await, Ok(false));
        assert_eq!(pool.verify("anything".into(), None).await, Ok(false), "unknown users never match");
    }
}
