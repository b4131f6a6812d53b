// Command shardsession runs shardsession's demo and tools.
//
//	shardsession demo [--smoke]   three web nodes sharing sessions over a local topology
//	shardsession check --shards s0=host:port,... | --sentinel host:port,... [--json] [--strict]
//	                               report each shard's replication, persistence, eviction, Sentinel view
//	shardsession reshard --shards s0=host:port,... [--add s3=host:port] [--remove s1] [--rate n]
//	                               add, remove or replace shards of a running fleet, with a progress bar
//
//	shardsession bench [--shards host:port,...] [--concurrency 1,16,64] [--reads 1,0] [--json f] [--svg f]
//	                               session loads and saves through the middleware, side by side with the Ring baseline
//
// Each subcommand lives in its own file and registers itself in commands.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
)

// command is one subcommand: it parses its own flags from args and returns
// the process's exit code.
type command struct {
	summary string
	run     func(args []string) int
}

var commands = map[string]command{}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the command line args (without the program name) and returns
// the exit code: asking for help is a success, a missing or unknown
// command is a usage error (2).
func run(args []string, out, errOut io.Writer) int {
	if len(args) == 1 && (args[0] == "help" || args[0] == "-h" || args[0] == "--help") {
		usage(out)
		return 0
	}
	if len(args) < 1 || commands[args[0]].run == nil {
		usage(errOut)
		return 2
	}
	return commands[args[0]].run(args[1:])
}

// parseFailed is the exit code of a command whose flags did not parse: 0
// for -h (the flag package has printed the usage), 2 for bad usage.
func parseFailed(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: shardsession <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(w, "  %-8s %s\n", name, commands[name].summary)
	}
	fmt.Fprintln(w, "\nrun 'shardsession <command> -h' for a command's flags")
}
