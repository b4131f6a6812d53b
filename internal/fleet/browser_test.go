package fleet_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/internal/clustertest"
	"github.com/shardsession/shardsession/internal/fleet"
	"github.com/shardsession/shardsession/internal/redistest"
)

// skipBrowserEnv, set to 1, skips the browser test where no browser can be
// installed. Without it a missing browser fails the test: a browser test
// that silently passes proves nothing.
const skipBrowserEnv = "SHARDSESSION_SKIP_BROWSER"

// findBrowser returns the path of a Chromium (Debian's package "chromium"),
// or fails the test with the install hint.
func findBrowser(t *testing.T) string {
	for _, name := range []string{os.Getenv("SHARDSESSION_BROWSER"), "chromium", "chromium-browser", "google-chrome"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv(skipBrowserEnv) == "1" {
		t.Skip("no Chromium; skipped because " + skipBrowserEnv + "=1")
	}
	t.Fatal("no Chromium found: install it with `sudo apt-get install -y chromium` (.ci/run does), " +
		"point SHARDSESSION_BROWSER at one, or set " + skipBrowserEnv + "=1 to skip this test")
	return ""
}

// TestBrowser drives the demo in headless Chromium as a user would: log in,
// reload (each reload is answered by another web node behind the
// round-robin proxy, and each must know the user), log out. It saves a
// screenshot of the logged-in page in testdata/artifacts.
func TestBrowser(t *testing.T) {
	browser := findBrowser(t)
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 3})
	f, err := fleet.Start(fleet.Options{Cluster: cluster.Options{Shards: clustertest.ShardOptions(top)}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser), chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(900, 600))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 25*time.Second)
	defer cancel()

	// page reads what the page says: the greeting, the node that served it
	// and the session's shard ("" when logged out).
	page := func(step string) (hello, node, shard string) {
		t.Helper()
		var err error
		if hello, err = chromedp.Run(ctx, chromedp.Text(chromedp.ID("hello"))); err != nil {
			t.Fatalf("%s: #hello: %v", step, err)
		}
		if node, err = chromedp.Run(ctx, chromedp.Text(chromedp.ID("node"))); err != nil {
			t.Fatalf("%s: #node: %v", step, err)
		}
		if strings.Contains(hello, "Hello") {
			if shard, err = chromedp.Run(ctx, chromedp.Text(chromedp.ID("shard"))); err != nil {
				t.Fatalf("%s: #shard: %v", step, err)
			}
		}
		return hello, node, shard
	}
	do := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}

	do("open the demo", chromedp.Navigate(f.URL), chromedp.WaitVisible(chromedp.ID("login")))
	do("log in",
		chromedp.SendKeys(chromedp.CSS(`input[name="user"]`), "ada"),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("logout")))
	hello, node, shard := page("after login")
	if !strings.Contains(hello, "ada") || shard == "" {
		t.Fatalf("after login: hello %q, shard %q", hello, shard)
	}
	t.Logf("logged in: node %s, shard %s", node, shard)

	nodes := map[string]bool{node: true}
	for i := range 3 {
		do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("node")))
		h, n, s := page("after reload")
		t.Logf("reload %d: node %s, shard %s, %q", i, n, s, h)
		if !strings.Contains(h, "ada") || s != shard {
			t.Fatalf("reload %d through node %s: hello %q, shard %q; want ada on shard %s", i, n, h, s, shard)
		}
		nodes[n] = true
	}
	if len(nodes) < 2 {
		t.Fatalf("every reload was answered by %v: the proxy did not spread them", nodes)
	}

	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100 gives a PNG
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	dir := filepath.Join("testdata", "artifacts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path, _ := filepath.Abs(filepath.Join(dir, "demo-logged-in.png"))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)

	do("log out", chromedp.Click(chromedp.ID("logout")), chromedp.WaitVisible(chromedp.ID("login")))
	if hello, _, _ := page("after logout"); !strings.Contains(hello, "not logged in") {
		t.Fatalf("after logout: %q", hello)
	}
}
