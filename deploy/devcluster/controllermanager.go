// controllermanager.go runs kube-controller-manager in this process with the controllers capstan needs.
// Its options are set as struct fields: building its flags after the API server's would clash on
// feature gates in one process.
package main

import (
	"context"
	"fmt"

	"k8s.io/kubernetes/cmd/kube-controller-manager/app"
	"k8s.io/kubernetes/cmd/kube-controller-manager/app/options"
)

// controllers are the ones a cluster without kubelets and clouds can run. Node lifecycle and taint
// eviction are left out on purpose: with no node heartbeats they would evict every pod.
var controllers = []string{
	"serviceaccount-token-controller",
	"serviceaccount-controller",
	"namespace-controller",
	"garbage-collector-controller",
	"deployment-controller",
	"replicaset-controller",
	"statefulset-controller",
	"daemonset-controller",
	"job-controller",
	"cronjob-controller",
	"ttl-after-finished-controller",
	"root-ca-certificate-publisher-controller",
	"clusterrole-aggregation-controller",
	"resourcequota-controller",
	"disruption-controller",
	// Binds PersistentVolumeClaims to statically provisioned PersistentVolumes, so charts with
	// claims can be waited for; there is no dynamic provisioner.
	"persistentvolume-binder-controller",
}

func startControllerManager(ctx context.Context, kubeconfig string, pki pkiFiles) (<-chan error, error) {
	s, err := options.NewKubeControllerManagerOptions()
	if err != nil {
		return nil, err
	}
	s.Generic.ClientConnection.Kubeconfig = kubeconfig
	s.Generic.ClientConnection.QPS = 500
	s.Generic.ClientConnection.Burst = 1000
	// Losing a leader-election lease exits the whole process; there is only one manager.
	s.Generic.LeaderElection.LeaderElect = false
	s.Generic.Controllers = controllers
	s.SAController.ServiceAccountKeyFile = pki.ServiceAccountKey
	s.SAController.RootCAFile = pki.CACert
	s.KubeCloudShared.UseServiceAccountCredentials = false
	s.SecureServing.BindPort = 0
	s.Authentication.RemoteKubeConfigFileOptional = true
	s.Authorization.RemoteKubeConfigFileOptional = true
	s.Authentication.RemoteKubeConfigFile = kubeconfig
	s.Authorization.RemoteKubeConfigFile = kubeconfig

	if err := s.ComponentGlobalsRegistry.Set(); err != nil {
		return nil, fmt.Errorf("feature gates: %w", err)
	}
	config, err := s.Config(ctx, app.KnownControllers(), app.ControllersDisabledByDefault(), app.ControllerAliases())
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	errs := make(chan error, 1)
	go func() {
		if err := app.Run(ctx, config.Complete()); err != nil && ctx.Err() == nil {
			errs <- err
		}
	}()
	return errs, nil
}
