//! Brute-force protection, counted in the database so every node agrees.
//!
//! **Sign-ins.** Failures are counted per account (by user id, whichever of e-mail address or
//! user name was typed) and, for names that match no account, per name — the same limits and
//! the same code path, so a lock never tells whether an account exists. Before the password is
//! checked, the answer waits `failure_delay` once per failure already counted (progressive
//! delay); the failure that reaches `max_failed_sign_ins` locks the name for `lock_duration`.
//! While locked, a wrong password gets the usual "user ID or password is incorrect" and the right
//! one `sign_in.too_many_attempts`, without signing in; failures during a lock still count, and
//! reaching the limit again extends it, so guessing never gets faster than the limit allows.
//! Per client address, `max_failures_per_ip` failures (over any names) refuse that address for
//! `lock_duration` before any password is checked. Accounts' locks are mirrored to the user
//! record, so `poort user show` can tell an administrator.
//!
//! **Mail requests** (reset and activation links) count every request per recipient address
//! (`max_failed_sign_ins`) and per client address (`max_failures_per_ip`); beyond that the page
//! says "too many requests" — for every address alike.
//!
//! **Registrations** (RFC 7591) count per client address: `registration.max_per_ip` within
//! `registration.per_ip_window`, then the address is refused for that long.
//!
//! Every refusal is counted in the `poort_rate_limited_total` metric, by limit.
//!
//! Counters are keyed by a keyed hash, so the table holds no names or addresses. The client
//! address comes from the socket (`ConnectInfo`), or from `X-Forwarded-For` when the socket is a
//! trusted proxy; IPv6 clients count per /64. Without a socket (a router driven in process)
//! there is no address and only the per-name limits apply.

use crate::crypto::keyed_hash;
use crate::state::AppState;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use poort_storage::repo::users::normalize_email;
use poort_storage::repo::{ThrottleLimits, ThrottleState, UserRecord};
use poort_storage::{StorageError, now};
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// Shown on the sign-in page while locked (after the right password) or when the address is refused.
pub const TOO_MANY_ATTEMPTS: &str = "sign_in.too_many_attempts";
/// Shown when the throttle itself cannot be consulted: the database is out of reach for now…
pub const UNAVAILABLE: &str = "error.unavailable";
/// …or failed otherwise.
const FAILED: &str = "error.server";

/// The metric counting refusals, labelled by limit.
pub const RATE_LIMITED: &str = "poort_rate_limited_total";

/// The progressive delay counts at most this many failures.
const MAX_DELAY_STEPS: i64 = 10;

/// The client's address, as far as it is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClientIp(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip());
        let forwarded = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(",");
        Ok(ClientIp(client_address(peer, &forwarded, &state.settings.accounts.trusted_proxy_addrs())))
    }
}

/// The client behind `peer`: `peer` itself, unless it is a trusted proxy; then the nearest
/// address in `X-Forwarded-For` (read from the right) that is not one.
fn client_address(peer: Option<IpAddr>, forwarded_for: &str, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = peer.map(canonical)?;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let mut nearest = peer;
    for hop in forwarded_for.rsplit(',') {
        match hop.trim().parse::<IpAddr>().map(canonical) {
            Ok(address) if trusted.contains(&address) => nearest = address,
            Ok(address) => return Some(address),
            // A malformed hop: nothing further left can be trusted.
            Err(_) => break,
        }
    }
    Some(nearest)
}

/// IPv4-mapped IPv6 addresses as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// What one client address counts as: itself for IPv4, its /64 for IPv6.
fn address_group(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

fn counter_key(state: &AppState, kind: &str, value: &str) -> String {
    keyed_hash(&state.hash_key, &format!("throttle {kind}\0{value}"))
}

fn per_name(state: &AppState) -> ThrottleLimits {
    let accounts = &state.settings.accounts;
    let lock = accounts.lock_duration.as_secs() as i64;
    ThrottleLimits { max_failures: i64::from(accounts.max_failed_sign_ins), lock_secs: lock, forget_after_secs: lock }
}

fn per_address(state: &AppState) -> ThrottleLimits {
    ThrottleLimits { max_failures: i64::from(state.settings.accounts.max_failures_per_ip), ..per_name(state) }
}

/// The wait before answering a sign-in to a name with `failures` already counted.
pub fn delay_for(failures: i64, step: Duration) -> Duration {
    step * failures.clamp(0, MAX_DELAY_STEPS) as u32
}

/// One sign-in attempt under the throttle: [`SignInAttempt::begin`] before the password is
/// checked, [`SignInAttempt::finish`] after.
pub struct SignInAttempt {
    name_key: String,
    address_key: Option<String>,
    name: ThrottleState,
    user: Option<(String, bool)>,
}

impl SignInAttempt {
    /// Refuses a client address over its budget (with a `sign_in.*` message key), and otherwise
    /// waits out the progressive delay for `username`. `user` is the account it names, if any.
    pub async fn begin(
        state: &AppState,
        ip: ClientIp,
        username: &str,
        user: Option<&UserRecord>,
    ) -> Result<SignInAttempt, &'static str> {
        let name_key = match user {
            Some(user) => counter_key(state, "sign-in account", &user.id),
            None => counter_key(state, "sign-in name", &username.trim().to_lowercase()),
        };
        let address_key = ip.0.map(|ip| counter_key(state, "sign-in address", &address_group(ip)));
        let at = now();
        let counters = state.store.throttle();
        let looked_up = async {
            let address = match &address_key {
                Some(key) => counters.get(key, at).await?,
                None => ThrottleState::default(),
            };
            Ok::<_, StorageError>((address, counters.get(&name_key, at).await?))
        };
        let (address, name) = looked_up.await.map_err(unavailable)?;
        if address.is_locked(at) {
            state.metrics.inc(RATE_LIMITED, &[("limit", "sign_in")]);
            return Err(TOO_MANY_ATTEMPTS);
        }
        tokio::time::sleep(delay_for(name.failures, state.settings.accounts.failure_delay)).await;
        let user = user.map(|u| (u.id.clone(), u.failed_logins > 0 || u.locked_until.is_some()));
        Ok(SignInAttempt { name_key, address_key, name, user })
    }

    /// Counts the outcome. A failure is counted (and answered by the caller as usual); the right
    /// password for a locked name is refused with `sign_in.too_many_attempts`; otherwise the
    /// name's failures are forgotten.
    pub async fn finish(self, state: &AppState, password_matched: bool) -> Result<(), &'static str> {
        let at = now();
        let counters = state.store.throttle();
        let locked = self.name.is_locked(at);
        let result = async {
            if password_matched {
                if locked {
                    state.metrics.inc(RATE_LIMITED, &[("limit", "sign_in")]);
                    return Ok(Err(TOO_MANY_ATTEMPTS));
                }
                counters.clear(&self.name_key).await?;
                if let Some((id, true)) = &self.user {
                    state.store.users().reset_failed_logins(id).await?;
                }
                return Ok(Ok(()));
            }
            let name = counters.record_failure(&self.name_key, per_name(state), at).await?;
            if let Some(key) = &self.address_key {
                counters.record_failure(key, per_address(state), at).await?;
            }
            if let Some((id, _)) = &self.user {
                let lock = name.just_locked(at).then_some(name.locked_until).flatten();
                state.store.users().record_failed_login(id, lock).await?;
            }
            Ok::<_, StorageError>(Ok(()))
        };
        result.await.unwrap_or_else(|error| Err(unavailable(error)))
    }
}

fn unavailable(error: StorageError) -> &'static str {
    tracing::error!(%error, "the sign-in throttle could not be consulted");
    if error.is_unavailable() { UNAVAILABLE } else { FAILED }
}

/// Whether a mail to `address` (a reset or activation link) may be requested now from `ip`;
/// counts the request when it may. The same for every address, known or not.
pub async fn allow_mail_request(state: &AppState, ip: ClientIp, address: &str) -> Result<bool, StorageError> {
    let at = now();
    let counters = state.store.throttle();
    let address_key = counter_key(state, "mail recipient", &normalize_email(address));
    let client_key = ip.0.map(|ip| counter_key(state, "mail client", &address_group(ip)));
    let recipient_locked = counters.get(&address_key, at).await?.is_locked(at);
    let client_locked = match &client_key {
        Some(key) => counters.get(key, at).await?.is_locked(at),
        None => false,
    };
    if recipient_locked || client_locked {
        state.metrics.inc(RATE_LIMITED, &[("limit", "mail_request")]);
        return Ok(false);
    }
    counters.record_failure(&address_key, per_name(state), at).await?;
    if let Some(key) = &client_key {
        counters.record_failure(key, per_address(state), at).await?;
    }
    Ok(true)
}

/// Whether a client registration from `ip` may go ahead now; counts it when it may. Without a
/// known address (a router driven in process) there is nothing to count by.
pub async fn allow_registration(state: &AppState, ip: ClientIp) -> Result<bool, StorageError> {
    let settings = &state.settings.registration;
    let Some(ip) = ip.0.filter(|_| settings.max_per_ip > 0) else { return Ok(true) };
    let window = settings.per_ip_window.as_secs() as i64;
    let limits = ThrottleLimits { max_failures: i64::from(settings.max_per_ip), lock_secs: window, forget_after_secs: window };
    let (at, counters) = (now(), state.store.throttle());
    let key = counter_key(state, "registration client", &address_group(ip));
    if counters.get(&key, at).await?.is_locked(at) {
        state.metrics.inc(RATE_LIMITED, &[("limit", "registration")]);
        return Ok(false);
    }
    counters.record_failure(&key, limits, at).await?;
    Ok(true)
}

/// Forgets an account's failed sign-ins and lock (after it gets a new password by mail).
pub async fn clear_account(state: &AppState, user: &UserRecord) -> Result<(), StorageError> {
    state.store.throttle().clear(&counter_key(state, "sign-in account", &user.id)).await?;
    if user.failed_logins > 0 || user.locked_until.is_some() {
        state.store.users().reset_failed_logins(&user.id).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_client_is_the_socket_unless_it_is_a_trusted_proxy() {
        let proxy = ip("10.0.0.1");
        assert_eq!(client_address(Some(ip("203.0.113.7")), "198.51.100.1", &[proxy]), Some(ip("203.0.113.7")));
        assert_eq!(client_address(Some(proxy), "198.51.100.1", &[proxy]), Some(ip("198.51.100.1")));
        // Read from the right: what the client itself wrote on the left is not believed.
        assert_eq!(client_address(Some(proxy), "6.6.6.6, 198.51.100.1", &[proxy]), Some(ip("198.51.100.1")));
        let second = ip("10.0.0.2");
        assert_eq!(client_address(Some(proxy), "198.51.100.1, 10.0.0.2", &[proxy, second]), Some(ip("198.51.100.1")));
        assert_eq!(client_address(Some(proxy), "", &[proxy]), Some(proxy));
        assert_eq!(client_address(Some(proxy), "garbage", &[proxy]), Some(proxy));
        assert_eq!(client_address(None, "198.51.100.1", &[proxy]), None, "no socket, no address");
        assert_eq!(client_address(Some(ip("::ffff:203.0.113.7")), "", &[]), Some(ip("203.0.113.7")));
    }

    #[test]
    fn ipv6_clients_count_per_64() {
        assert_eq!(address_group(ip("2001:db8:1:2:3:4:5:6")), "2001:db8:1:2::/64");
        assert_eq!(address_group(ip("2001:db8:1:2:ffff::1")), "2001:db8:1:2::/64");
        assert_eq!(address_group(ip("192.0.2.1")), "192.0.2.1");
    }

    #[test]
    fn the_delay_grows_with_each_failure_up_to_a_cap() {
        let step = Duration::from_millis(500);
        assert_eq!(delay_for(0, step), Duration::ZERO);
        assert_eq!(delay_for(3, step), Duration::from_millis(1500));
        assert_eq!(delay_for(100, step), Duration::from_secs(5));
        assert_eq!(delay_for(-1, step), Duration::ZERO);
        assert_eq!(delay_for(4, Duration::ZERO), Duration::ZERO);
    }
}
