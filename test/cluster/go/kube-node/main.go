// One binary for the node and the rest of the control plane, built from the published
// k8s.io/kubernetes module: kubelet, kube-controller-manager and kube-scheduler share most of
// their packages, so one link instead of three saves minutes and a gigabyte of memory on a cold
// build. build-binaries.sh links each name to this binary; the name it is run as picks the command.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
	kubelet "k8s.io/kubernetes/cmd/kubelet/app"
)

func main() {
	commands := map[string]func() *cobra.Command{
		"kubelet":                 func() *cobra.Command { return kubelet.NewKubeletCommand(context.Background()) },
		"kube-controller-manager": controllermanager.NewControllerManagerCommand,
		"kube-scheduler":          func() *cobra.Command { return scheduler.NewSchedulerCommand() },
	}
	name := filepath.Base(os.Args[0])
	build, ok := commands[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "kube-node: run me as kubelet, kube-controller-manager or kube-scheduler (a link named so), not %q\n", name)
		os.Exit(2)
	}
	os.Exit(cli.Run(build()))
}
