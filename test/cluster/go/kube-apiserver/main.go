// Entry point for a kube-apiserver built from the published k8s.io/kubernetes module.
// build-binaries.sh wraps it in a generated module; this is the only hand-written part.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
