//! What the install and upgrade RPCs share: the render they carry, the flags both take, and
//! running the operation they become.

use capstan_auth::Caller;
use capstan_ops::{Cluster, Control, Install, Progress, Rendered, Upgrade};
use capstan_proto::applier::v1 as pb;
use capstan_proto::renderer::v1 as render_pb;
use capstan_release::{BoxFuture, Release, ReleaseStore};
use tonic::{Response, Status};

use crate::quotas::QuotaHold;
use crate::streaming::{EventStream, finished, finished_with_record};
use crate::{ApplierService, convert};

/// An install or an upgrade, as the service runs it.
pub(crate) trait Deploying: Send + 'static {
    /// The operation's name, for its span, events and metrics.
    const NAME: &'static str;

    /// The release and namespace, as the request named them.
    fn release(&self) -> (&str, &str);

    /// `--server-side` (`None`: auto), as the operation takes it.
    fn set_server_side(&mut self, server_side: Option<bool>);

    /// The operation's control block.
    fn control(&mut self) -> &mut Control;

    /// Whether the operation is a dry run (its result carries the record it would write).
    fn simulates(&self) -> bool;

    /// Runs the operation.
    fn run<'a>(
        &'a self,
        store: &'a dyn ReleaseStore,
        cluster: &'a dyn Cluster,
        progress: &'a dyn Progress,
        rendered: Rendered,
    ) -> BoxFuture<'a, capstan_ops::Result<Release>>;
}

impl Deploying for Install {
    const NAME: &'static str = "install";

    fn release(&self) -> (&str, &str) {
        (&self.name, &self.namespace)
    }

    /// An install applies server-side unless told `false`.
    fn set_server_side(&mut self, server_side: Option<bool>) {
        if server_side == Some(false) {
            self.apply.mode = capstan_ops::ApplyMode::ClientSide;
        }
    }

    fn control(&mut self) -> &mut Control {
        &mut self.control
    }

    fn simulates(&self) -> bool {
        self.dry_run.is_some()
    }

    fn run<'a>(
        &'a self,
        store: &'a dyn ReleaseStore,
        cluster: &'a dyn Cluster,
        progress: &'a dyn Progress,
        rendered: Rendered,
    ) -> BoxFuture<'a, capstan_ops::Result<Release>> {
        Box::pin(Install::run(self, store, cluster, progress, rendered))
    }
}

impl Deploying for Upgrade {
    const NAME: &'static str = "upgrade";

    fn release(&self) -> (&str, &str) {
        (&self.name, &self.namespace)
    }

    /// An upgrade decides `auto` from the release's last apply.
    fn set_server_side(&mut self, server_side: Option<bool>) {
        self.server_side = server_side;
    }

    fn control(&mut self) -> &mut Control {
        &mut self.control
    }

    fn simulates(&self) -> bool {
        self.dry_run.is_some()
    }

    fn run<'a>(
        &'a self,
        store: &'a dyn ReleaseStore,
        cluster: &'a dyn Cluster,
        progress: &'a dyn Progress,
        rendered: Rendered,
    ) -> BoxFuture<'a, capstan_ops::Result<Release>> {
        Box::pin(Upgrade::run(self, store, cluster, progress, rendered))
    }
}

/// Sets on `$op` (an [`Install`] or an [`Upgrade`]) the flags install and upgrade requests share,
/// which both requests and both operations name alike, from `$r`; returns from the enclosing
/// function with `InvalidArgument` when one cannot be understood (`dry_run`, `server_side`,
/// `labels`, in that order).
macro_rules! set_shared_flags {
    ($op:ident, $r:ident) => {{
        use $crate::deploy::Deploying as _;
        $op.expected_revision = $r.expected_revision;
        $op.create_namespace = $r.create_namespace;
        $op.atomic = $r.atomic;
        $op.dry_run = $crate::convert::dry_run($r.dry_run_setting())?;
        $op.wait = $r.wait || $r.atomic;
        $op.wait_for_jobs = $r.wait_for_jobs;
        $op.timeout = $crate::convert::timeout($r.timeout_millis, capstan_ops::DEFAULT_TIMEOUT);
        $op.no_hooks = $r.no_hooks;
        $op.skip_crds = $r.skip_crds;
        $op.description = Some($r.description.clone()).filter(|d| !d.is_empty());
        $op.apply.force = $r.force;
        $op.apply.take_ownership = $r.take_ownership;
        $op.apply.force_conflicts = $r.force_conflicts;
        $op.set_server_side($crate::convert::server_side($r.server_side_setting())?);
        $op.labels = $crate::convert::labels(&$r.labels)?;
        $op.control().lock_wait = $crate::convert::lock_wait($r.lock_wait_millis);
        $op.control().recover = $crate::convert::recover($r.recover);
    }};
}
pub(crate) use set_shared_flags;

impl ApplierService {
    /// The render a request carries (the renderer's response, or the fields older clients
    /// copied out of it), checked and preflighted for `caller` in `namespace`.
    pub(crate) async fn accept_render(
        &self,
        caller: &Caller,
        namespace: &str,
        render: Option<render_pb::RenderResponse>,
        rendered: Option<pb::Rendered>,
    ) -> Result<Rendered, Status> {
        let rendered = convert::rendered(convert::render_of(render, rendered))?;
        self.preflight(caller, namespace, &rendered.manifest, &rendered.hooks)
            .await?;
        Ok(rendered)
    }

    /// Starts `op` on `rendered`, holding the quota place `hold` (if any) until it ends; its
    /// lock wait and recovery as set on it.
    pub(crate) async fn deploy<Op: Deploying>(
        &self,
        caller: &Caller,
        metadata: &tonic::metadata::MetadataMap,
        mut op: Op,
        rendered: Rendered,
        hold: Option<QuotaHold>,
    ) -> Result<Response<EventStream>, Status> {
        let (name, namespace) = op.release();
        let (name, namespace) = (name.to_owned(), namespace.to_owned());
        self.start(
            caller,
            metadata,
            Op::NAME,
            &name,
            &namespace,
            move |target, control, progress| async move {
                let _hold = hold;
                let own = op.control();
                *own = Control {
                    lock_wait: own.lock_wait,
                    recover: own.recover,
                    ..control
                };
                let simulated = op.simulates();
                let result = op
                    .run(&*target.store, &*target.cluster, &*progress, rendered)
                    .await;
                if simulated {
                    finished_with_record(result)
                } else {
                    finished(result)
                }
            },
        )
        .await
    }
}
