package docstest

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// imports maps the package names that documentation uses to their paths.
var imports = map[string]string{
	"cluster":      "github.com/shardsession/shardsession/cluster",
	"rediscluster": "github.com/shardsession/shardsession/rediscluster",
	"redis":        "github.com/redis/go-redis/v9",
	"session":      "github.com/shardsession/shardsession/session",
	"shard":        "github.com/shardsession/shardsession/shard",
	"replica":      "github.com/shardsession/shardsession/replica",
	"failover":     "github.com/shardsession/shardsession/failover",
	"metrics":      "github.com/shardsession/shardsession/metrics",
	"tracing":      "github.com/shardsession/shardsession/tracing",
	"scsstore":     "github.com/shardsession/shardsession/session/scsstore",
	"gorillastore": "github.com/shardsession/shardsession/session/gorillastore",
	"scs":          "github.com/alexedwards/scs/v2",
	"sessions":     "github.com/gorilla/sessions",
	"prometheus":   "github.com/prometheus/client_golang/prometheus",
	"promhttp":     "github.com/prometheus/client_golang/prometheus/promhttp",
	"chi":          "github.com/go-chi/chi/v5",
	"context":      "context",
	"errors":       "errors",
	"fmt":          "fmt",
	"http":         "net/http",
	"log":          "log",
	"os":           "os",
	"slog":         "log/slog",
	"strings":      "strings",
	"time":         "time",
	"tls":          "crypto/tls",
}

// block is one ```go block of a Markdown file.
type block struct {
	file string // relative to the module root
	line int    // of the opening fence
	code string
}

func (b block) String() string { return fmt.Sprintf("%s:%d", b.file, b.line) }

// moduleRoot is the directory of go.mod, two levels up.
func moduleRoot(t *testing.T) string {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root: %v", err)
	}
	return root
}

// markdownFiles returns README.md and docs/*.md, relative to root.
func markdownFiles(t *testing.T, root string) []string {
	files, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	out := []string{"README.md"}
	for _, f := range files {
		rel, _ := filepath.Rel(root, f)
		out = append(out, rel)
	}
	return out
}

// fencedBlocks returns the fenced blocks of file whose info string is lang.
func fencedBlocks(t *testing.T, root, file, lang string) []block {
	f, err := os.Open(filepath.Join(root, file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []block
	var cur *block
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case cur == nil && strings.HasPrefix(trimmed, "```"):
			cur = &block{file: file, line: n}
			if strings.TrimSpace(strings.TrimPrefix(trimmed, "```")) != lang {
				cur.line = -1 // another language: skip to its end
			}
		case cur != nil && trimmed == "```":
			if cur.line > 0 {
				out = append(out, *cur)
			}
			cur = nil
		case cur != nil:
			cur.code += line + "\n"
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

var (
	topLevel = regexp.MustCompile(`(?m)^(func|type|var|const) `)
	selector = regexp.MustCompile(`\b([a-z][a-z0-9]*)\.[A-Z]`)
)

// declares reports whether code declares a variable called name (as
// README's sessions := session.New(c)), which then is not a package.
func declares(code, name string) bool {
	return regexp.MustCompile(`(?m)^\s*(var\s+)?` + name + `\b[\w\s,]*(:=|=[^=]|\s+\*?[\w.]+$)`).MatchString(code)
}

// source turns a block into a compilable file of package pkg.
func source(b block, pkg string) string {
	if strings.HasPrefix(strings.TrimSpace(b.code), "package ") {
		return b.code
	}
	used := map[string]bool{}
	for _, m := range selector.FindAllStringSubmatch(b.code, -1) {
		if _, ok := imports[m[1]]; ok && !declares(b.code, m[1]) {
			used[m[1]] = true
		}
	}
	var names []string
	for n := range used {
		names = append(names, n)
	}
	sort.Strings(names)
	var s strings.Builder
	fmt.Fprintf(&s, "// Code from %s. DO NOT EDIT.\n\npackage %s\n\nimport (\n", b, pkg)
	for _, n := range names {
		fmt.Fprintf(&s, "\t%s %q\n", n, imports[n])
	}
	s.WriteString(")\n\n")
	if topLevel.MatchString(b.code) {
		s.WriteString(b.code)
	} else {
		s.WriteString("func _() {\n" + b.code + "}\n")
	}
	return s.String()
}

// Every Go block of the docs compiles and passes go vet.
func TestGoBlocksCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every docs example with the go tool")
	}
	root := moduleRoot(t)
	var blocks []block
	for _, f := range markdownFiles(t, root) {
		blocks = append(blocks, fencedBlocks(t, root, f, "go")...)
	}
	if len(blocks) == 0 {
		t.Fatal("no ```go blocks found: is the extraction broken?")
	}
	// Inside the module (so its packages and go.sum apply), under testdata
	// (so ./... never sees it).
	parent := filepath.Join(root, "internal", "docstest", "testdata")
	os.MkdirAll(parent, 0o755)
	dir, err := os.MkdirTemp(parent, "gen-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	var pkgs []string
	where := map[string]block{}
	for i, b := range blocks {
		name := fmt.Sprintf("b%d", i)
		pdir := filepath.Join(dir, name)
		if err := os.Mkdir(pdir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(pdir, "doc.go"), []byte(source(b, name)), 0o644); err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, pdir)
		pkgs = append(pkgs, "./"+filepath.ToSlash(rel))
		where[name] = b
	}
	cmd := exec.Command("go", append([]string{"vet"}, pkgs...)...)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		// Name the Markdown block of each failing generated package.
		msg := string(out)
		for name, b := range where {
			msg = strings.ReplaceAll(msg, "/"+name+"/doc.go", "/"+name+"/doc.go ("+b.String()+")")
		}
		t.Fatalf("docs code does not compile:\n%s", msg)
	}
	t.Logf("%d Go blocks compiled and vetted", len(blocks))
}

var link = regexp.MustCompile(`\]\(([^)#\s]+)(#[^)]*)?\)`)

// Every relative link of the docs points at a file or directory that
// exists.
func TestRelativeLinks(t *testing.T) {
	root := moduleRoot(t)
	for _, f := range markdownFiles(t, root) {
		text, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range link.FindAllStringSubmatch(string(text), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			if _, err := os.Stat(filepath.Join(root, filepath.Dir(f), target)); err != nil {
				t.Errorf("%s: broken link %s", f, target)
			}
		}
	}
}

// The README's quick start is two commands: the demo and the tests.
func TestReadmeHasTwoSetupCommands(t *testing.T) {
	root := moduleRoot(t)
	sh := fencedBlocks(t, root, "README.md", "sh")
	if len(sh) == 0 {
		t.Fatal("README.md has no ```sh block")
	}
	var cmds []string
	for line := range strings.SplitSeq(sh[0].code, "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			cmds = append(cmds, line)
		}
	}
	if len(cmds) != 2 || !strings.Contains(cmds[0], "demo") || !strings.Contains(cmds[1], "go test") {
		t.Fatalf("README quick start commands = %q, want two: the demo, then the tests", cmds)
	}
}
