// Command consul is Consul's own CLI (for `consul agent -dev` in OMS tests), built from the
// MPL-2.0 release pinned in go.mod. Upstream's go.mod replaces its sub-modules with local
// folders, so it cannot be `go install`ed; this wrapper requires them by version instead.
package main

import (
	"fmt"
	"os"

	mcli "github.com/mitchellh/cli"

	"github.com/hashicorp/consul/command"
	"github.com/hashicorp/consul/command/cli"
)

func main() {
	ui := &cli.BasicUI{BasicUi: mcli.BasicUi{Writer: os.Stdout, ErrorWriter: os.Stderr}}
	commands := command.RegisteredCommands(ui)
	runner := &mcli.CLI{
		Args:        os.Args[1:],
		Commands:    commands,
		Name:        "consul",
		HelpWriter:  os.Stdout,
		ErrorWriter: os.Stderr,
	}
	code, err := runner.Run()
	if err != nil {
		fmt.Fprintf(os.Stderr, "consul: %v\n", err)
		os.Exit(1)
	}
	os.Exit(code)
}
