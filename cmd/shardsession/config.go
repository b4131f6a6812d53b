package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"strings"
)

// Environment variables that configure the CLI's commands when their flags
// are not given. A --config file holds the same KEY=value lines.
const (
	envShards    = "SHARDSESSION_SHARDS"    // name=host:port[+replica...],...
	envSentinels = "SHARDSESSION_SENTINELS" // host:port,... of Redis Sentinels
)

// topologyFlags are the flags of commands that talk to a deployment.
type topologyFlags struct {
	shards    *string
	sentinels *string
	config    *string
}

func addTopologyFlags(fs *flag.FlagSet) topologyFlags {
	return topologyFlags{
		shards:    fs.String("shards", "", "shards as name=host:port[+replica...],... (default $"+envShards+")"),
		sentinels: fs.String("sentinel", "", "Redis Sentinels as host:port,... (default $"+envSentinels+"); each master they monitor is a shard"),
		config:    fs.String("config", "", "a file of "+envShards+"=... and "+envSentinels+"=... lines, read when neither flags nor environment set them"),
	}
}

// resolve returns the shards and sentinels text: flags first, then the
// environment, then the config file.
func (f topologyFlags) resolve() (shards, sentinels string, err error) {
	shards, sentinels = *f.shards, *f.sentinels
	if shards == "" {
		shards = os.Getenv(envShards)
	}
	if sentinels == "" {
		sentinels = os.Getenv(envSentinels)
	}
	if *f.config != "" && shards == "" && sentinels == "" {
		file, err := readConfig(*f.config)
		if err != nil {
			return "", "", err
		}
		shards, sentinels = file[envShards], file[envSentinels]
	}
	if shards == "" && sentinels == "" {
		return "", "", fmt.Errorf("no topology: give --shards or --sentinel, set %s or %s, or --config a file", envShards, envSentinels)
	}
	return shards, sentinels, nil
}

// readConfig reads KEY=value lines; blank lines and # comments are skipped,
// and a value may be quoted.
func readConfig(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("config %s:%d: want KEY=value", path, n)
		}
		out[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `"'`)
	}
	return out, sc.Err()
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
