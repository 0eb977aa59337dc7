//! SIGINT/SIGTERM for the whole process, handled from the first instruction. `main` blocks both
//! signals before anything else ([`block`]), so one that arrives while arguments are parsed or
//! the runtime starts stays pending instead of killing the process; [`install`] then registers
//! the handler and unblocks them.
//!
//! What a signal does depends on who owns it by then: until a command takes the first signal
//! over ([`take_over`]: the session once it can drain, the sandbox server), a signal ends the
//! process with exit 130 at once (nothing has been sent yet). Afterwards the first signal is
//! handed to the owner ([`first`]) and a second one exits at once.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use tokio::sync::Notify;

use crate::error::Exit;

static RECEIVED: AtomicU32 = AtomicU32::new(0);
static OWNED: AtomicBool = AtomicBool::new(false);
static NOTIFY: Notify = Notify::const_new();

fn mask(how: libc::c_int) {
    // SAFETY: a sigset on the stack, initialised by sigemptyset before use; pthread_sigmask
    // only reads it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::pthread_sigmask(how, &set, std::ptr::null_mut());
    }
}

/// Blocks SIGINT and SIGTERM in this thread and every thread it starts later. Call first.
pub fn block() {
    mask(libc::SIG_BLOCK);
}

/// Registers the handler and unblocks the signals in the calling thread (the one that runs
/// `block_on`, so a pending signal is delivered now, to the handler). `owned`: the command
/// handles the first signal itself from the start.
pub fn install(owned: bool) {
    OWNED.store(owned, Ordering::SeqCst);
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        mask(libc::SIG_UNBLOCK);
        return;
    };
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            let n = RECEIVED.fetch_add(1, Ordering::SeqCst) + 1;
            if !OWNED.load(Ordering::SeqCst) {
                eprintln!("interrupted; nothing was sent");
                std::process::exit(Exit::Interrupted.code().into());
            }
            if n >= 2 {
                eprintln!("error: second signal: exiting now; what was recorded stays valid");
                std::process::exit(Exit::Interrupted.code().into());
            }
            NOTIFY.notify_waiters();
        }
    });
    mask(libc::SIG_UNBLOCK);
}

/// From now on the first signal is handed to [`first`] instead of ending the process.
pub fn take_over() {
    OWNED.store(true, Ordering::SeqCst);
}

/// Resolves once a signal has arrived (at once if one already has).
pub async fn first() {
    loop {
        let notified = NOTIFY.notified();
        if RECEIVED.load(Ordering::SeqCst) > 0 {
            return;
        }
        notified.await;
    }
}
