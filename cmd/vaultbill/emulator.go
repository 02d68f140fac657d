package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"

	"github.com/vaultbill/vaultbill/shared/local/emulator"
)

// runEmulator runs a command with one AWS emulator for all of it: the one at AWS_ENDPOINT_URL when
// that is set (LocalStack, a running moto), otherwise a moto_server started on a free port and
// stopped when the command ends. `make test` runs the whole suite this way, so every test package
// shares one emulator (each test provisions its own uniquely named resources on it).
func runEmulator(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		return errors.New("usage: vaultbill emulator [--] COMMAND [ARGS...]")
	}
	endpoint := os.Getenv("AWS_ENDPOINT_URL")
	if endpoint == "" {
		var err error
		if endpoint, err = emulator.FreeEndpoint(); err != nil {
			return err
		}
	}
	// moto logs every request: keep that out of the command's output, in a file to read on failure.
	logf, err := os.CreateTemp("", "vaultbill-emulator-*.log")
	if err != nil {
		return err
	}
	defer logf.Close()
	emu, err := emulator.Ensure(ctx, endpoint, logf)
	if err != nil {
		return fmt.Errorf("%w (its output: %s)", err, logf.Name())
	}
	defer emu.Stop()
	if emu.Started {
		fmt.Fprintf(os.Stderr, "vaultbill emulator: started moto_server at %s for %q (its log: %s)\n", endpoint, args[0], logf.Name())
	} else {
		os.Remove(logf.Name())
		fmt.Fprintf(os.Stderr, "vaultbill emulator: using the emulator at %s\n", endpoint)
	}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), "AWS_ENDPOINT_URL="+endpoint)
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			emu.Stop()
			os.Exit(exit.ExitCode())
		}
		return fmt.Errorf("run %s: %w", args[0], err)
	}
	return nil
}
