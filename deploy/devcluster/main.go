// Command devcluster runs a real, single-process Kubernetes control plane for capstan's tests, demo and
// benchmarks: embedded etcd, kube-apiserver and kube-controller-manager, on 127.0.0.1 only.
//
// It writes certificates, an admin kubeconfig and etcd data under --state-dir, prints one line
// starting with "devcluster ready" on stdout once the API server is healthy and the controller manager
// runs, and exits cleanly on SIGINT or SIGTERM. There is no kubelet: capstan's pod-lifecycle simulator
// plays that part.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

func main() {
	stateDir := flag.String("state-dir", "", "directory for certificates, kubeconfig and etcd data (required)")
	verbosity := flag.Int("v", 0, "klog verbosity of the embedded components")
	flag.Parse()
	if *stateDir == "" {
		fmt.Fprintln(os.Stderr, "devcluster: --state-dir is required")
		os.Exit(2)
	}
	if err := run(*stateDir, *verbosity); err != nil {
		fmt.Fprintf(os.Stderr, "devcluster: %v\n", err)
		os.Exit(1)
	}
}

func run(stateDir string, verbosity int) error {
	stateDir, err := filepath.Abs(stateDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return fmt.Errorf("create state dir: %w", err)
	}
	started := time.Now()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)

	pki, err := writePKI(filepath.Join(stateDir, "pki"))
	if err != nil {
		return fmt.Errorf("certificates: %w", err)
	}

	etcd, err := startEtcd(filepath.Join(stateDir, "etcd"))
	if err != nil {
		return fmt.Errorf("etcd: %w", err)
	}
	defer etcd.Close()

	api, err := startAPIServer(ctx, apiServerConfig{
		stateDir:  stateDir,
		etcdURL:   etcd.ClientURL,
		pki:       pki,
		verbosity: verbosity,
	})
	if err != nil {
		return fmt.Errorf("kube-apiserver: %w", err)
	}

	kubeconfig := filepath.Join(stateDir, "kubeconfig")
	if err := writeKubeconfig(kubeconfig, api.URL, pki); err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}

	if err := waitForAPIServer(ctx, kubeconfig, api.Errors, 90*time.Second); err != nil {
		return fmt.Errorf("kube-apiserver did not become healthy: %w", err)
	}

	kcmErrors, err := startControllerManager(ctx, kubeconfig, pki)
	if err != nil {
		return fmt.Errorf("kube-controller-manager: %w", err)
	}

	fmt.Printf("devcluster ready server=%s kubeconfig=%s pid=%d startup=%s\n",
		api.URL, kubeconfig, os.Getpid(), time.Since(started).Round(time.Millisecond))

	select {
	case sig := <-signals:
		fmt.Fprintf(os.Stderr, "devcluster: %s received, shutting down\n", sig)
	case err := <-api.Errors:
		return fmt.Errorf("kube-apiserver stopped: %w", err)
	case err := <-kcmErrors:
		return fmt.Errorf("kube-controller-manager stopped: %w", err)
	case err := <-etcd.Err():
		return fmt.Errorf("etcd stopped: %w", err)
	}

	cancel()
	// Give the API server a bounded moment to drain; a second signal or the deadline ends it.
	select {
	case <-api.Done:
	case <-signals:
	case <-time.After(10 * time.Second):
	}
	return nil
}
