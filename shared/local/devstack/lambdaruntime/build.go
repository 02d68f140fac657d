// Package lambdaruntime runs the functions' built bootstraps under AWS's Lambda Runtime Interface
// Emulator, with the environment their synthesized CloudFormation template gives them, mapped to the
// local stack's resources: what `sam local invoke` does, without Docker.
package lambdaruntime

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
)

// The Runtime Interface Emulator, pinned: the Go program inside every AWS Lambda base image and SAM's
// containers. Its tagged releases are not on the Go module proxy; this commit is.
const (
	EmulatorPackage = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"
	EmulatorVersion = "v0.0.0-20261030222936-bef5c4ba774d"
)

// Hello names the baseline function (./hello) that Build also builds.
const Hello = "hello"

// BuildFlags are make build's flags; Build adds CGO_ENABLED=0 and this machine's GOOS and GOARCH.
var BuildFlags = []string{"-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w"}

// CacheDir is where bootstraps and the emulator are kept between runs: go build skips a binary
// that is up to date, so a warm cache costs about a second.
func CacheDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "vaultbill", "lambda-runtime", runtime.GOOS+"_"+runtime.GOARCH)
}

// ModuleRoot is the folder of the repository's go.mod, found from the working directory.
func ModuleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("run from inside the vaultbill repository (no go.mod found)")
	}
	return filepath.Dir(mod), nil
}

// Build builds the named functions (folders of functions/, or Hello) as make build does, for this
// machine, in one go build, into dir/<name>, and returns their paths by name.
func Build(ctx context.Context, dir string, names ...string) (map[string]string, error) {
	root, err := ModuleRoot(ctx)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	args := append([]string{"build"}, BuildFlags...)
	args = append(args, "-o", dir+string(filepath.Separator))
	paths := map[string]string{}
	for _, n := range names {
		pkg := "./functions/" + n
		if n == Hello {
			pkg = "./shared/local/devstack/lambdaruntime/hello"
		}
		if _, err := os.Stat(filepath.Join(root, pkg)); err != nil {
			return nil, fmt.Errorf("no function %q (%s)", n, pkg)
		}
		args = append(args, pkg)
		paths[n] = filepath.Join(dir, n)
	}
	unlock, err := lock(dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+runtime.GOOS, "GOARCH="+runtime.GOARCH)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go build %s: %w\n%s", strings.Join(names, " "), err, stderr.String())
	}
	return paths, nil
}

// InstallEmulator builds the pinned Runtime Interface Emulator into dir once (go install of the
// module at EmulatorVersion: its checksum is verified like any module's) and returns its path.
func InstallEmulator(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "rie-"+EmulatorVersion)
	path := filepath.Join(bin, "aws-lambda-rie")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return "", err
	}
	unlock, err := lock(bin)
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	cmd := exec.CommandContext(ctx, "go", "install", "-trimpath", EmulatorPackage+"@"+EmulatorVersion)
	// Outside any module, so the emulator's own go.mod decides its dependencies, not vaultbill's.
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOBIN="+bin, "CGO_ENABLED=0", "GOFLAGS=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go install %s@%s: %w\n%s", EmulatorPackage, EmulatorVersion, err, stderr.String())
	}
	return path, nil
}

// Synthesize runs the CDK app (go run ./infra) into dir and returns its templates. The templates do
// not depend on the binaries, only on their presence, so placeholder bootstraps stand in for them
// (as in the template tests) and nothing needs make build.
func Synthesize(ctx context.Context, dir string, functions []string) (Templates, error) {
	root, err := ModuleRoot(ctx)
	if err != nil {
		return nil, err
	}
	placeholders := filepath.Join(dir, "placeholders")
	for _, f := range functions {
		if err := os.MkdirAll(filepath.Join(placeholders, f), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(placeholders, f, "bootstrap"), []byte("placeholder "+f), 0o755); err != nil {
			return nil, err
		}
	}
	out := filepath.Join(dir, "cdk.out")
	if err := os.RemoveAll(out); err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, "go", "run", ".")
	cmd.Dir = filepath.Join(root, "infra")
	cmd.Env = append(os.Environ(), "CDK_OUTDIR="+out, "VAULTBILL_BUILD_DIR="+placeholders,
		"JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1", "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20,22")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("synthesize the CDK app: %w\n%s", err, stderr.String())
	}
	return ReadTemplates(out)
}

// lock holds an exclusive lock on dir until the returned function is called, so that test binaries
// and the CLI running at once never build into the same folder together (go build skips a binary
// that is up to date, so the second finds nothing to do).
func lock(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}
