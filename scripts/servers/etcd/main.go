// Command etcd is etcd's own server, built from the v3.5 release pinned in go.mod, as the
// storage of the kube-apiserver in OMS tests. Debian's etcd (3.4) is too old for Kubernetes
// 1.32, and `go install` of etcd's server module gives no main package, so this wrapper
// calls the same entry point as upstream's binary.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
