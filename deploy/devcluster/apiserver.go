// apiserver.go runs kube-apiserver in this process, configured as upstream's test server is: from its own
// option structs and flags, never through its cobra command (which installs a signal handler).
package main

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/pflag"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	basecompatibility "k8s.io/component-base/compatibility"
	logsapi "k8s.io/component-base/logs/api/v1"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
	"k8s.io/kubernetes/cmd/kube-apiserver/app/options"
)

func init() {
	// kube-apiserver and kube-controller-manager share this process's logging configuration.
	logsapi.ReapplyHandling = logsapi.ReapplyHandlingIgnoreUnchanged
}

type apiServerConfig struct {
	stateDir  string
	etcdURL   string
	pki       pkiFiles
	verbosity int
}

type apiServer struct {
	URL string
	// Errors receives the error the server stopped with, if it stops on its own.
	Errors <-chan error
	// Done is closed when the server has returned.
	Done <-chan struct{}
}

func startAPIServer(ctx context.Context, cfg apiServerConfig) (*apiServer, error) {
	s := options.NewServerRunOptions()
	fs := pflag.NewFlagSet("kube-apiserver", pflag.ContinueOnError)
	for _, set := range s.Flags().FlagSets {
		fs.AddFlagSet(set)
	}

	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := listener.Addr().(*net.TCPAddr).Port

	args := []string{
		"--etcd-servers=" + cfg.etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		"--cert-dir=" + filepath.Join(cfg.stateDir, "pki"),
		"--tls-cert-file=" + cfg.pki.ServerCert,
		"--tls-private-key-file=" + cfg.pki.ServerKey,
		"--client-ca-file=" + cfg.pki.CACert,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + cfg.pki.ServiceAccountKey,
		"--service-account-signing-key-file=" + cfg.pki.ServiceAccountKey,
		"--service-cluster-ip-range=10.0.0.0/24",
		// Loopback addresses are not valid in Endpoints; there is only one API server anyway.
		"--endpoint-reconciler-type=none",
		"--authorization-mode=RBAC",
		// Without it, pods in a namespace created a moment ago race the default service account.
		"--disable-admission-plugins=ServiceAccount",
		"--allow-privileged=true",
		"--enable-priority-and-fairness=false",
		"--max-requests-inflight=0",
		"--max-mutating-requests-inflight=0",
		"--profiling=false",
		"--v=" + strconv.Itoa(cfg.verbosity),
	}
	if err := fs.Parse(args); err != nil {
		return nil, fmt.Errorf("flags: %w", err)
	}
	s.SecureServing.Listener = listener
	s.SecureServing.BindPort = port

	if err := s.GenericServerRunOptions.ComponentGlobalsRegistry.Set(); err != nil {
		return nil, fmt.Errorf("feature gates: %w", err)
	}
	featureGate := s.GenericServerRunOptions.ComponentGlobalsRegistry.FeatureGateFor(basecompatibility.DefaultKubeComponent)
	if err := logsapi.ValidateAndApply(s.Logs, featureGate); err != nil {
		return nil, fmt.Errorf("logging: %w", err)
	}
	rest.SetDefaultWarningHandler(rest.NoWarnings{})

	completed, err := s.Complete(ctx)
	if err != nil {
		return nil, fmt.Errorf("complete options: %w", err)
	}
	if errs := completed.Validate(); len(errs) != 0 {
		return nil, fmt.Errorf("validate options: %w", utilerrors.NewAggregate(errs))
	}

	errs := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := app.Run(ctx, completed); err != nil && ctx.Err() == nil {
			errs <- err
		}
	}()
	return &apiServer{URL: fmt.Sprintf("https://127.0.0.1:%d", port), Errors: errs, Done: done}, nil
}

// waitForAPIServer returns once /healthz answers 200 and the default namespace exists.
func waitForAPIServer(ctx context.Context, kubeconfig string, failed <-chan error, limit time.Duration) error {
	config, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var last error
	err = wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		select {
		case err := <-failed:
			return false, err
		default:
		}
		status := 0
		result := client.Discovery().RESTClient().Get().AbsPath("/healthz").Do(ctx).StatusCode(&status)
		if status != 200 {
			last = fmt.Errorf("/healthz returned %d: %v", status, result.Error())
			return false, nil
		}
		if _, err := client.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{}); err != nil {
			last = fmt.Errorf("namespace default: %w", err)
			return false, nil
		}
		return true, nil
	})
	if err != nil && last != nil {
		return fmt.Errorf("%w (last: %v)", err, last)
	}
	return err
}
