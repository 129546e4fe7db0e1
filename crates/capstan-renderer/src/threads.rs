//! The service's render threads, kept between jobs: a job runs on an idle thread when there is one, else on a new one.
//!
//! A thread is started with the service's large render stack (see
//! [`crate::ServiceLimits::render_stack_bytes`]). Starting one per render cost every request a
//! thread's creation, the mapping of its stack and the first touch of its pages, and a heap of
//! the allocator's handed to it anew; a kept thread has them warm. A job that never ends (a
//! render abandoned past its time limit) keeps its thread, as before: the next job gets
//! another. At most [`MAX_IDLE`] threads wait; one that finds the idle list full ends.

use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, Weak};

/// Most threads kept waiting for a job.
pub const MAX_IDLE: usize = 4;

type Job = Box<dyn FnOnce() + Send + 'static>;

/// Threads that run jobs one at a time, kept while idle (see the module docs).
#[derive(Debug)]
pub struct Threads {
    /// How to hand a job to each idle thread, the one idle last at the end.
    idle: Arc<Mutex<Vec<Sender<Job>>>>,
    /// Each thread's stack.
    stack_bytes: usize,
}

impl Threads {
    /// Threads with stacks of `stack_bytes`.
    pub fn new(stack_bytes: usize) -> Threads {
        Threads {
            idle: Arc::new(Mutex::new(Vec::new())),
            stack_bytes,
        }
    }

    /// Runs `job` on an idle thread, or on a new one named `name` when none is idle.
    pub fn run(&self, name: &str, job: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
        let mut job: Job = Box::new(job);
        loop {
            let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let Some(idle) = idle else { break };
            // A thread that ended meanwhile (its job panicked) gives the job back.
            match idle.send(job) {
                Ok(()) => return Ok(()),
                Err(std::sync::mpsc::SendError(back)) => job = back,
            }
        }
        let (tx, rx) = channel();
        let _ = tx.send(job);
        self.start(name, rx)
    }

    /// Starts a thread named `name` that waits for a job, so that the first job finds it
    /// started (its creation, stack and heap done while the caller does other work). Should
    /// the thread not start, the job handed to it comes back to [`Threads::run`], which starts
    /// another.
    pub fn prestart(&self, name: &str) -> std::io::Result<()> {
        let (tx, rx) = channel();
        {
            let mut all = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            if all.len() >= MAX_IDLE {
                return Ok(());
            }
            all.push(tx);
        }
        self.start(name, rx)
    }

    /// Starts a thread named `name` serving the jobs `jobs` hands it (see [`serve`]).
    fn start(&self, name: &str, jobs: Receiver<Job>) -> std::io::Result<()> {
        let idle = Arc::downgrade(&self.idle);
        std::thread::Builder::new()
            .name(name.to_owned())
            .stack_size(self.stack_bytes)
            .spawn(move || serve(jobs, idle))?;
        Ok(())
    }

    /// Threads waiting for a job now.
    #[cfg(test)]
    fn idle(&self) -> usize {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// A thread's life: the jobs handed to it, one at a time, until the pool is gone or full.
fn serve(mut jobs: Receiver<Job>, idle: Weak<Mutex<Vec<Sender<Job>>>>) {
    while let Ok(job) = jobs.recv() {
        job();
        let Some(idle) = idle.upgrade() else { return };
        let (tx, rx) = channel();
        {
            let mut idle = idle.lock().unwrap_or_else(|e| e.into_inner());
            if idle.len() >= MAX_IDLE {
                return;
            }
            idle.push(tx);
        }
        jobs = rx;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on_thread(threads: &Threads) -> std::thread::ThreadId {
        let (tx, rx) = channel();
        threads
            .run("test", move || {
                let _ = tx.send(std::thread::current().id());
            })
            .unwrap();
        let id = rx.recv().unwrap();
        // The thread is idle again once it has put itself back on the list.
        while threads.idle() == 0 {
            std::thread::yield_now();
        }
        id
    }

    #[test]
    fn a_thread_runs_the_next_job_once_idle() {
        let threads = Threads::new(1 << 20);
        let first = on_thread(&threads);
        assert_eq!(on_thread(&threads), first);
        assert_ne!(first, std::thread::current().id());
    }

    #[test]
    fn the_first_job_runs_on_the_thread_started_ahead_of_it() {
        let threads = Threads::new(1 << 20);
        threads.prestart("capstan-ahead").unwrap();
        assert_eq!(threads.idle(), 1);
        let (tx, rx) = channel();
        threads
            .run("test", move || {
                let _ = tx.send(std::thread::current().name().map(str::to_owned));
            })
            .unwrap();
        assert_eq!(rx.recv().unwrap().as_deref(), Some("capstan-ahead"));
    }

    #[test]
    fn no_thread_is_started_ahead_beyond_the_idle_limit() {
        let threads = Threads::new(1 << 20);
        for _ in 0..MAX_IDLE + 2 {
            threads.prestart("capstan-ahead").unwrap();
        }
        assert_eq!(threads.idle(), MAX_IDLE);
    }

    #[test]
    fn a_busy_thread_leaves_the_next_job_to_another() {
        let threads = Threads::new(1 << 20);
        let (release, held) = channel::<()>();
        let (started_tx, started) = channel();
        threads
            .run("test", move || {
                let _ = started_tx.send(std::thread::current().id());
                let _ = held.recv();
            })
            .unwrap();
        let busy = started.recv().unwrap();
        let (tx, rx) = channel();
        threads
            .run("test", move || {
                let _ = tx.send(std::thread::current().id());
            })
            .unwrap();
        assert_ne!(rx.recv().unwrap(), busy);
        drop(release);
    }

    #[test]
    fn a_job_that_panics_ends_its_thread_and_the_next_runs() {
        let threads = Threads::new(1 << 20);
        let first = on_thread(&threads);
        threads.run("test", || panic!("a job panicked")).unwrap();
        // The panicking thread never comes back to the idle list: wait until it is gone.
        while threads.idle() != 0 {
            std::thread::yield_now();
        }
        let (tx, rx) = channel();
        threads
            .run("test", move || {
                let _ = tx.send(std::thread::current().id());
            })
            .unwrap();
        assert_ne!(rx.recv().unwrap(), first);
    }

    #[test]
    fn at_most_max_idle_threads_wait() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static ENDED: AtomicUsize = AtomicUsize::new(0);
        struct Ends;
        impl Drop for Ends {
            fn drop(&mut self) {
                ENDED.fetch_add(1, Ordering::SeqCst);
            }
        }
        thread_local! { static ENDS: Ends = const { Ends }; }
        let threads = Threads::new(1 << 20);
        let n = MAX_IDLE + 2;
        let (release, held) = std::sync::mpsc::sync_channel::<()>(0);
        let held = Arc::new(Mutex::new(held));
        let (started_tx, started) = channel();
        for _ in 0..n {
            let (held, started_tx) = (held.clone(), started_tx.clone());
            threads
                .run("test", move || {
                    // Counted when this thread ends (thread-local destructors run then).
                    ENDS.with(|_| {});
                    let _ = started_tx.send(());
                    let _ = held.lock().unwrap().recv();
                })
                .unwrap();
        }
        for _ in 0..n {
            started.recv().unwrap();
        }
        for _ in 0..n {
            release.send(()).unwrap();
        }
        // Every thread either waits on the idle list or has ended.
        while threads.idle() + ENDED.load(Ordering::SeqCst) < n {
            std::thread::yield_now();
        }
        assert_eq!(threads.idle(), MAX_IDLE);
        assert_eq!(ENDED.load(Ordering::SeqCst), n - MAX_IDLE);
    }
}
