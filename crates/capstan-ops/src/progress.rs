//! Progress events and the [`Progress`] sink they are delivered to, so a gRPC stream (or a
//! terminal) can show an operation live.

use std::sync::{Mutex, PoisonError};

use capstan_release::{HookEvent, HookPhase, Status};
use serde::Serialize;

use crate::cluster::{ObjectAction, ObjectPreview};
use crate::resource::ObjectRef;

/// The phases of an operation, in the order they happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Taking the release's lock.
    Locking,
    /// Marking an interrupted revision failed.
    Recovering,
    /// Creating the namespace (`--create-namespace`).
    CreatingNamespace,
    /// Writing the pending revision.
    Recording,
    /// Running the `pre-*` hooks.
    PreHooks,
    /// Applying objects.
    Applying,
    /// Waiting for readiness.
    Waiting,
    /// Running the `post-*` hooks.
    PostHooks,
    /// Deleting objects (uninstall, cleanup on fail).
    Deleting,
    /// An atomic operation recovering from a failure.
    RollingBack,
    /// Writing the final statuses.
    Finalising,
}

/// One thing that happened.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Event {
    /// A new phase began.
    Phase {
        /// The phase.
        phase: Phase,
        /// The revision being written, once known.
        revision: Option<u32>,
    },
    /// A pending revision was recovered (marked failed) before the operation proceeded.
    Recovered {
        /// The revision.
        revision: u32,
        /// The description written.
        description: String,
    },
    /// One object was applied or deleted.
    Object {
        /// The object.
        object: ObjectRef,
        /// What happened to it.
        action: ObjectAction,
        /// In a server dry run: the object as it is and as it would be.
        #[serde(skip_serializing_if = "Option::is_none")]
        preview: Option<Box<ObjectPreview>>,
    },
    /// An object's readiness changed while waiting.
    Readiness {
        /// The object.
        object: ObjectRef,
        /// Whether it is ready now.
        ready: bool,
        /// Why (or why not), e.g. `1/3 available`.
        reason: String,
    },
    /// A hook started.
    HookStarted {
        /// The hook's resource name.
        name: String,
        /// Its kind.
        kind: String,
        /// The event being run.
        event: HookEvent,
        /// Its weight.
        weight: i64,
    },
    /// A hook finished.
    HookFinished {
        /// The hook's resource name.
        name: String,
        /// The event being run.
        event: HookEvent,
        /// Its outcome.
        phase: HookPhase,
        /// A message (why it failed).
        message: Option<String>,
    },
    /// Something went wrong that does not change the operation's outcome (e.g. cleanup on
    /// fail could not delete an object).
    Warning {
        /// What.
        message: String,
    },
    /// The operation ended.
    Finished {
        /// The revision the operation ended on, if any was written.
        revision: Option<u32>,
        /// Its status (`None` when records were purged).
        status: Option<Status>,
        /// Its description, or the error.
        description: String,
        /// Whether the operation succeeded.
        success: bool,
    },
}

/// Where events go. Implementations must not block for long (forward into a channel).
pub trait Progress: Send + Sync {
    /// Receives one event.
    fn event(&self, event: Event);
}

/// A sink that drops every event.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn event(&self, _event: Event) {}
}

/// A sink that keeps every event (tests, summaries).
#[derive(Debug, Default)]
pub struct Recorder {
    events: Mutex<Vec<Event>>,
}

impl Recorder {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// The events so far.
    pub fn events(&self) -> Vec<Event> {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Progress for Recorder {
    fn event(&self, event: Event) {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(event);
    }
}

impl<F: Fn(Event) + Send + Sync> Progress for F {
    fn event(&self, event: Event) {
        self(event)
    }
}
