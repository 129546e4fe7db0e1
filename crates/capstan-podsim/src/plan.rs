//! What a pod should look like now: pure logic from its spec and age, with no cluster access.
//!
//! A fault is chosen by image tag so that charts can make a rollout fail on purpose:
//! `never-ready`, `crashloop`, `fail` and `slow-N` (Ready after N seconds).

use std::time::Duration;

use k8s_openapi::api::core::v1::PodSpec;

/// The behaviour injected into a pod through one of its containers' image tags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Behaves like a healthy workload.
    None,
    /// Runs, but its readiness probe never passes.
    NeverReady,
    /// The container keeps crashing: waiting in `CrashLoopBackOff` with a rising restart count.
    CrashLoop,
    /// The container exits 1: a run-to-completion pod fails, a long-running one crash-loops.
    Fail,
    /// Becomes ready (or completes) only this long after it started.
    Slow(Duration),
}

impl Fault {
    /// Reads the fault from an image reference's tag (`repo/name:tag`, digests ignored).
    pub fn from_image(image: &str) -> Fault {
        let name = image.split('@').next().unwrap_or(image);
        let last = name.rsplit('/').next().unwrap_or(name);
        let Some((_, tag)) = last.rsplit_once(':') else {
            return Fault::None;
        };
        match tag {
            "never-ready" => Fault::NeverReady,
            "crashloop" => Fault::CrashLoop,
            "fail" => Fault::Fail,
            _ => tag
                .strip_prefix("slow-")
                .and_then(|n| n.parse::<u64>().ok())
                .map_or(Fault::None, |n| Fault::Slow(Duration::from_secs(n))),
        }
    }

    /// The first fault found among a pod's (regular) containers.
    pub fn of_pod(spec: &PodSpec) -> Fault {
        spec.containers
            .iter()
            .filter_map(|c| c.image.as_deref())
            .map(Fault::from_image)
            .find(|f| *f != Fault::None)
            .unwrap_or(Fault::None)
    }
}

/// Whether a pod is expected to keep running or to run to completion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lifecycle {
    /// `restartPolicy: Always`: Deployments, StatefulSets, DaemonSets, most bare pods.
    LongRunning,
    /// `restartPolicy: Never` or `OnFailure`: Job pods and hook pods.
    RunToCompletion,
}

impl Lifecycle {
    /// Reads the lifecycle from the pod's restart policy (Kubernetes defaults it to `Always`).
    pub fn of_pod(spec: &PodSpec) -> Lifecycle {
        match spec.restart_policy.as_deref() {
            Some("Never") | Some("OnFailure") => Lifecycle::RunToCompletion,
            _ => Lifecycle::LongRunning,
        }
    }
}

/// The state every regular container of the pod should report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContainerState {
    /// Running since the pod started.
    Running,
    /// Waiting to be restarted, with the kubelet's reason.
    Waiting(&'static str),
    /// Exited with this code and reason.
    Terminated(i32, &'static str),
}

/// The status the simulator drives a pod to, and when to look at it again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The pod phase: `Running`, `Succeeded` or `Failed`.
    pub phase: &'static str,
    /// Whether the Ready and ContainersReady conditions are true.
    pub ready: bool,
    /// What each container reports.
    pub container: ContainerState,
    /// Whether each look should count one more container restart.
    pub restarting: bool,
    /// When to look at the pod again even if nothing about it changes.
    pub requeue: Option<Duration>,
}

/// How often a crash-looping container "restarts".
pub const CRASH_INTERVAL: Duration = Duration::from_secs(5);

/// Plans the status of a pod with this fault and lifecycle that started `age` ago.
pub fn plan(fault: Fault, lifecycle: Lifecycle, age: Duration) -> Plan {
    let running = |ready: bool, requeue: Option<Duration>| Plan {
        phase: "Running",
        ready,
        container: ContainerState::Running,
        restarting: false,
        requeue,
    };
    let crashing = Plan {
        phase: "Running",
        ready: false,
        container: ContainerState::Waiting("CrashLoopBackOff"),
        restarting: true,
        requeue: Some(CRASH_INTERVAL),
    };
    if let Fault::Slow(after) = fault
        && age < after
    {
        return running(false, Some(after - age));
    }
    match (lifecycle, fault) {
        (_, Fault::NeverReady) => running(false, None),
        (_, Fault::CrashLoop) | (Lifecycle::LongRunning, Fault::Fail) => crashing,
        (Lifecycle::LongRunning, Fault::None | Fault::Slow(_)) => running(true, None),
        (Lifecycle::RunToCompletion, Fault::Fail) => Plan {
            phase: "Failed",
            ready: false,
            container: ContainerState::Terminated(1, "Error"),
            restarting: false,
            requeue: None,
        },
        (Lifecycle::RunToCompletion, Fault::None | Fault::Slow(_)) => Plan {
            phase: "Succeeded",
            ready: false,
            container: ContainerState::Terminated(0, "Completed"),
            restarting: false,
            requeue: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_come_from_the_image_tag() {
        let cases = [
            ("nginx", Fault::None),
            ("nginx:1.27", Fault::None),
            ("registry.local:5000/web", Fault::None),
            ("registry.local:5000/web:never-ready", Fault::NeverReady),
            ("web:crashloop", Fault::CrashLoop),
            ("busybox:fail", Fault::Fail),
            ("web:slow-7", Fault::Slow(Duration::from_secs(7))),
            ("web:slow-x", Fault::None),
            ("web:fail@sha256:abcd", Fault::Fail),
        ];
        for (image, want) in cases {
            assert_eq!(Fault::from_image(image), want, "{image}");
        }
    }

    #[test]
    fn healthy_pods_run_ready_and_jobs_complete() {
        let p = plan(Fault::None, Lifecycle::LongRunning, Duration::ZERO);
        assert_eq!((p.phase, p.ready), ("Running", true));
        let p = plan(Fault::None, Lifecycle::RunToCompletion, Duration::ZERO);
        assert_eq!(p.phase, "Succeeded");
        assert_eq!(p.container, ContainerState::Terminated(0, "Completed"));
    }

    #[test]
    fn faults_shape_the_status() {
        let p = plan(
            Fault::NeverReady,
            Lifecycle::LongRunning,
            Duration::from_secs(999),
        );
        assert_eq!((p.phase, p.ready, p.requeue), ("Running", false, None));
        let p = plan(Fault::CrashLoop, Lifecycle::LongRunning, Duration::ZERO);
        assert_eq!(p.container, ContainerState::Waiting("CrashLoopBackOff"));
        assert!(p.restarting);
        let p = plan(Fault::Fail, Lifecycle::RunToCompletion, Duration::ZERO);
        assert_eq!(p.phase, "Failed");
        assert_eq!(p.container, ContainerState::Terminated(1, "Error"));
    }

    #[test]
    fn slow_pods_become_ready_after_their_delay() {
        let slow = Fault::Slow(Duration::from_secs(5));
        let p = plan(slow, Lifecycle::LongRunning, Duration::from_secs(2));
        assert!(!p.ready);
        assert_eq!(p.requeue, Some(Duration::from_secs(3)));
        let p = plan(slow, Lifecycle::LongRunning, Duration::from_secs(5));
        assert!(p.ready);
        let p = plan(slow, Lifecycle::RunToCompletion, Duration::from_secs(6));
        assert_eq!(p.phase, "Succeeded");
    }
}
