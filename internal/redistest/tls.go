package redistest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
)

// TLS is a throwaway certificate authority and one certificate it signed
// for 127.0.0.1, good for both ends of a connection (serverAuth and
// clientAuth), made with openssl. A server or sentinel started with it
// listens for TLS only (--port 0 --tls-port), replicates, monitors and
// migrates over TLS, and requires clients to present a certificate signed
// by the CA.
type TLS struct {
	// CAFile, CertFile and KeyFile are the PEM files: the CA's certificate,
	// the node certificate and its key.
	CAFile, CertFile, KeyFile string
}

// NewTLS makes a CA and a certificate for 127.0.0.1 in dir with openssl,
// valid for a day.
func NewTLS(ctx context.Context, dir string) (*TLS, error) {
	t := &TLS{
		CAFile:   filepath.Join(dir, "ca.crt"),
		CertFile: filepath.Join(dir, "node.crt"),
		KeyFile:  filepath.Join(dir, "node.key"),
	}
	caKey, csr, ext := filepath.Join(dir, "ca.key"), filepath.Join(dir, "node.csr"), filepath.Join(dir, "node.ext")
	if err := os.WriteFile(ext, []byte("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n"), 0o600); err != nil {
		return nil, fmt.Errorf("redistest: tls: %w", err)
	}
	ec := []string{"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"}
	steps := [][]string{
		append(append([]string{"req", "-x509"}, ec...), "-keyout", caKey, "-out", t.CAFile, "-days", "1", "-subj", "/CN=redistest CA"),
		append(append([]string{"req"}, ec...), "-keyout", t.KeyFile, "-out", csr, "-subj", "/CN=127.0.0.1"),
		{"x509", "-req", "-in", csr, "-CA", t.CAFile, "-CAkey", caKey, "-CAcreateserial", "-out", t.CertFile, "-days", "1", "-extfile", ext},
	}
	for _, args := range steps {
		if out, err := exec.CommandContext(ctx, "openssl", args...).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("redistest: tls: openssl %s: %w\n%s", args[0], err, out)
		}
	}
	return t, nil
}

// ClientConfig returns a TLS configuration that trusts the CA and
// presents the certificate, for go-redis's Options.TLSConfig. It panics
// if the files cannot be read (they were written by NewTLS).
func (t *TLS) ClientConfig() *tls.Config {
	ca, err := os.ReadFile(t.CAFile)
	if err != nil {
		panic(fmt.Sprintf("redistest: tls: %v", err))
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		panic("redistest: tls: no certificate in " + t.CAFile)
	}
	cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		panic(fmt.Sprintf("redistest: tls: %v", err))
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
}

// serverArgs are the redis-server arguments of a TLS-only server on port.
func (t *TLS) serverArgs(port int) []string {
	return []string{
		"--port", "0", "--tls-port", strconv.Itoa(port),
		"--tls-cert-file", t.CertFile, "--tls-key-file", t.KeyFile, "--tls-ca-cert-file", t.CAFile,
		"--tls-auth-clients", "yes", "--tls-replication", "yes", "--tls-cluster", "yes",
	}
}

// sentinelConfig is the sentinel.conf part of a TLS-only sentinel on port.
func (t *TLS) sentinelConfig(port int) string {
	return fmt.Sprintf("port 0\ntls-port %d\ntls-cert-file %q\ntls-key-file %q\ntls-ca-cert-file %q\ntls-auth-clients yes\ntls-replication yes\n",
		port, t.CertFile, t.KeyFile, t.CAFile)
}
