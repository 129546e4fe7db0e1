//! The signals that cancel a running operation: Ctrl-C (SIGINT), SIGTERM and SIGHUP.
//!
//! A command makes its [`Signals`] before it connects to anything and runs its work through
//! [`Signals::cancellable`] until its operation has returned its result, so a signal at any moment
//! in between is seen (none falls between two waits, and none finds the default action, which
//! would kill the process with the operation half done). On a signal the command's work is
//! dropped: the applier sees its client go away and cancels the operation, which then marks the
//! revision `failed`, releases the release's lock (and rolls back when `--atomic`); an in-process
//! applier is given the time to do so before the process exits. A second signal during that short
//! finalisation is ignored.

use std::future::Future;

use anyhow::Context as _;
use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::applier;
use crate::console::eoutln;

/// The signals a command is listening to; one per command, so a signal between two of its
/// operations (`uninstall A B`) cancels the next one.
pub struct Signals {
    interrupt: Signal,
    terminate: Signal,
    hangup: Signal,
}

/// Which signal arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Received {
    Interrupt,
    Terminate,
    Hangup,
}

impl Received {
    /// What the command says on standard error when it arrives.
    fn notice(self) -> &'static str {
        match self {
            Received::Interrupt => "interrupted",
            Received::Terminate => "SIGTERM received",
            Received::Hangup => "SIGHUP received",
        }
    }

    /// What cancelled the operation, in the command's error.
    fn cause(self) -> &'static str {
        match self {
            Received::Interrupt => "interrupt",
            Received::Terminate => "SIGTERM",
            Received::Hangup => "SIGHUP",
        }
    }
}

impl Signals {
    /// Starts listening (from here on, these signals no longer end the process).
    pub fn listen() -> anyhow::Result<Signals> {
        let listen = |kind: SignalKind, name: &str| {
            signal(kind).with_context(|| format!("listening for {name}"))
        };
        Ok(Signals {
            interrupt: listen(SignalKind::interrupt(), "SIGINT")?,
            terminate: listen(SignalKind::terminate(), "SIGTERM")?,
            hangup: listen(SignalKind::hangup(), "SIGHUP")?,
        })
    }

    /// The next signal.
    async fn recv(&mut self) -> Received {
        tokio::select! {
            _ = self.interrupt.recv() => Received::Interrupt,
            _ = self.terminate.recv() => Received::Terminate,
            _ = self.hangup.recv() => Received::Hangup,
        }
    }

    /// Runs `work` (a command's render, operation call and the following of its events) until
    /// it ends or Ctrl-C, SIGTERM or SIGHUP arrives; then cancels it as the module docs say and
    /// fails with `operation cancelled by interrupt` (or `by SIGTERM`, `by SIGHUP`).
    pub async fn cancellable<T>(
        &mut self,
        work: impl Future<Output = anyhow::Result<T>>,
    ) -> anyhow::Result<T> {
        let received = {
            // The work is dropped at the end of this block, before the wait below: dropping it
            // closes the operation's event stream, which is what cancels the operation.
            let work = std::pin::pin!(work);
            tokio::select! {
                outcome = work => return outcome,
                received = self.recv() => received,
            }
        };
        // Standard error may be gone (SIGHUP from a closed terminal): the notice is best effort.
        eoutln!("{}: cancelling the operation", received.notice());
        applier::wait_idle().await;
        anyhow::bail!("operation cancelled by {}", received.cause())
    }
}
