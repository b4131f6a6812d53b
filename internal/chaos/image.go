package chaos

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"

	"github.com/ory/dockertest/v3"
	docker "github.com/ory/dockertest/v3/docker"
)

// imageRepo is the repository of the locally built Redis image.
const imageRepo = "shardsession-redis"

// ensureImage returns the tag of a FROM scratch image holding this host's
// redis-server (which is also redis-sentinel, with --sentinel), the
// libraries ldd lists and the dynamic loader. It builds the image only if
// no image with that tag exists: the tag is derived from the binary's
// hash, so an upgraded redis-server gets a new image. Nothing is pulled:
// this project's machines have no registry.
func ensureImage(pool *dockertest.Pool) (string, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", fmt.Errorf("chaos: image: %w", err)
	}
	sum, err := fileHash(bin)
	if err != nil {
		return "", err
	}
	tag := imageRepo + ":" + sum[:12]
	if _, err := pool.Client.InspectImage(tag); err == nil {
		return tag, nil
	}
	dir, err := os.MkdirTemp("", "shardsession-image-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	if err := rootfs(filepath.Join(dir, "rootfs"), bin); err != nil {
		return "", err
	}
	dockerfile := "FROM scratch\nCOPY rootfs/ /\nWORKDIR /data\nENTRYPOINT [\"/usr/bin/redis-server\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		return "", err
	}
	var out bytes.Buffer
	err = pool.Client.BuildImage(docker.BuildImageOptions{
		Name:         tag,
		Dockerfile:   "Dockerfile",
		ContextDir:   dir,
		OutputStream: &out,
		Labels:       map[string]string{"shardsession": "chaos"},
	})
	if err != nil {
		return "", fmt.Errorf("chaos: build %s: %w\n%s", tag, err, out.String())
	}
	return tag, nil
}

// lddPath matches the absolute paths in ldd's output.
var lddPath = regexp.MustCompile(`(/[^\s]+)`)

// rootfs copies bin to /usr/bin/redis-server under root, with every
// library ldd names at the same path, and the empty dirs and files
// redis-server and sentinel write to.
func rootfs(root, bin string) error {
	out, err := exec.Command("ldd", bin).Output()
	if err != nil {
		return fmt.Errorf("chaos: ldd %s: %w", bin, err)
	}
	files := map[string]string{"/usr/bin/redis-server": bin}
	for _, m := range lddPath.FindAllString(string(out), -1) {
		files[m] = m
	}
	for dst, src := range files {
		if err := copyFile(src, filepath.Join(root, dst)); err != nil {
			return err
		}
	}
	for _, d := range []string{"data", "tmp", "etc"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o777); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(root, "etc", "sentinel.conf"), nil, 0o666)
}

// copyFile copies src, following symlinks, to dst.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	return errors.Join(err, out.Close())
}

func fileHash(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
