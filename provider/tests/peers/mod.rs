//! Real peers for the federation tests, started once per test binary and stopped with it:
//! node-oidc-provider shaped like Entra ID and Google Workspace ([`upstream`], from
//! `federation/upstream-op`), and OpenLDAP's slapd with a small directory ([`directory`]).
//!
//! Each is spawned from a thread that lives as long as the binary, with `PR_SET_PDEATHSIG`, so
//! the processes end with the test binary however it ends.

#![allow(dead_code)]

pub mod directory;
pub mod upstream;

use std::process::{Child, Command};
use std::sync::mpsc;

/// Spawns `command` from the binary's long-lived peer thread, so it dies with the binary.
pub fn spawn_for_life(mut command: Command) -> std::io::Result<Child> {
    use std::sync::{Mutex, OnceLock};
    type Job = (Command, mpsc::Sender<std::io::Result<Child>>);
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("peers".into())
            .spawn(move || {
                // PR_SET_PDEATHSIG fires when the thread that forked exits: this one never does.
                for (mut command, reply) in rx {
                    die_with_parent(&mut command);
                    let _ = reply.send(command.spawn());
                }
                loop {
                    std::thread::park();
                }
            })
            .expect("the peer thread starts");
        Mutex::new(tx)
    });
    let (reply_tx, reply_rx) = mpsc::channel();
    die_with_parent(&mut command);
    spawner.lock().unwrap().send((command, reply_tx)).expect("the peer thread runs");
    reply_rx.recv().expect("the peer thread answers")
}

#[cfg(target_os = "linux")]
fn die_with_parent(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    unsafe extern "C" {
        fn prctl(option: std::ffi::c_int, ...) -> std::ffi::c_int;
    }
    const PR_SET_PDEATHSIG: std::ffi::c_int = 1;
    const SIGKILL: std::ffi::c_ulong = 9;
    // SAFETY: prctl is async-signal-safe; nothing is allocated between fork and exec.
    unsafe {
        command.pre_exec(|| {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_command: &mut Command) {}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Waits until something listens on `port`.
pub fn wait_for_port(port: u16, what: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "{what} did not listen on 127.0.0.1:{port}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
