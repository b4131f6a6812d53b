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
	"fmt"
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
	if len(os.Args) < 2 || commands[os.Args[1]].run == nil {
		usage()
		os.Exit(2)
	}
	os.Exit(commands[os.Args[1]].run(os.Args[2:]))
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: shardsession <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(os.Stderr, "  %-8s %s\n", name, commands[name].summary)
	}
	fmt.Fprintln(os.Stderr, "\nrun 'shardsession <command> -h' for a command's flags")
}
