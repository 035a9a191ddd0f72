// Entry point for an etcd server built from the published go.etcd.io/etcd/server/v3 module
// (its own main package cannot be `go install`ed because of the module's replace directives).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
