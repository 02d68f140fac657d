package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/pquerna/otp/totp"
	"golang.org/x/term"

	"github.com/vaultbill/vaultbill/shared/adapters/userpool"
	"github.com/vaultbill/vaultbill/shared/local/devstack"
	"github.com/vaultbill/vaultbill/shared/local/emulator"
	"github.com/vaultbill/vaultbill/shared/local/provision"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// Environment variables naming a pool other than the local stack's.
const (
	envPool   = "VAULTBILL_POOL_ID"
	envClient = "VAULTBILL_CLIENT_ID"
)

// loginOptions are `vaultbill login`'s flags.
type loginOptions struct {
	email, pool, client string
	// username is what the user signs in with: the email (an alias in the deployed pool), or locally
	// the pool's username for it, as the emulator does not resolve email aliases.
	username string
	// passwordStdin reads the password, and on first sign-in the new password, one a line from stdin.
	passwordStdin bool
	// totpSecretFile makes the CLI its own authenticator, for scripts and tests: the secret enrolled
	// at first sign-in is written there (mode 0600), and later codes are computed from it.
	totpSecretFile string
}

// runLogin is `vaultbill login`: it signs in against the user pool (the local stack's unless --pool
// and --client or VAULTBILL_POOL_ID and VAULTBILL_CLIENT_ID name another) and prints the ID token,
// which the API takes as `vaultbill token`'s.
func runLogin(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("login", flag.ContinueOnError)
	var o loginOptions
	fs.StringVar(&o.email, "email", "", "the user's email (required)")
	fs.StringVar(&o.pool, "pool", os.Getenv(envPool), "user pool id (env "+envPool+"); default the local stack's")
	fs.StringVar(&o.client, "client", os.Getenv(envClient), "app client id (env "+envClient+"); default the local stack's")
	fs.BoolVar(&o.passwordStdin, "password-stdin", false, "read the password (and, at first sign-in, the new one) from stdin, one a line")
	fs.StringVar(&o.totpSecretFile, "totp-secret-file", "", "for scripts: keep the TOTP secret in this file and answer codes from it")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.email == "" {
		return errors.New("--email is required")
	}
	api, client, err := poolClient(ctx, &o)
	if err != nil {
		return err
	}
	if o.username == "" {
		if o.username, err = userpool.UsernameFor(ctx, api, o.pool, o.email); err != nil {
			return fmt.Errorf("%s: %w", o.email, err)
		}
	}
	tok, err := login(ctx, api, client, o, os.Stdin, os.Stderr)
	if err != nil {
		return err
	}
	fmt.Println(tok.ID)
	return nil
}

// poolClient returns the Cognito client and app client id: the named pool with the SDK's credential
// chain, or the local stack's pool on the emulator.
func poolClient(ctx context.Context, o *loginOptions) (*cip.Client, string, error) {
	if o.client != "" {
		env, err := operatorEnv(ctx, cliLogger())
		if err != nil {
			return nil, "", err
		}
		o.username = o.email
		return cip.NewFromConfig(env.AWS), o.client, nil
	}
	ep := emulator.Endpoint()
	cfg, err := devstack.AWSConfig(ctx, ep)
	if err != nil {
		return nil, "", err
	}
	pool, err := provision.New(cfg, resources.LocalNames).UserPool(ctx, ep)
	if err != nil {
		return nil, "", fmt.Errorf("%w (is the local stack running? `make dev`)", err)
	}
	o.pool = pool.ID
	return cip.NewFromConfig(cfg), pool.ClientID, nil
}

func login(ctx context.Context, api userpool.AuthAPI, client string, o loginOptions, in io.Reader, out io.Writer) (userpool.Tokens, error) {
	p := &cliPrompt{in: bufio.NewReader(in), out: out, o: o}
	pw, err := p.secret("Password: ")
	if err != nil {
		return userpool.Tokens{}, err
	}
	return userpool.Login(ctx, api, client, o.username, o.email, pw, p)
}

// cliPrompt asks on the terminal without echo, or reads stdin lines with --password-stdin. Nothing it
// reads is ever printed or logged.
type cliPrompt struct {
	in  *bufio.Reader
	out io.Writer
	o   loginOptions
}

func (p *cliPrompt) secret(prompt string) (string, error) {
	if !p.o.passwordStdin && term.IsTerminal(int(os.Stdin.Fd())) {
		fmt.Fprint(p.out, prompt)
		b, err := term.ReadPassword(int(os.Stdin.Fd()))
		fmt.Fprintln(p.out)
		return string(b), err
	}
	if !p.o.passwordStdin {
		return "", errors.New("stdin is not a terminal: use --password-stdin")
	}
	return p.line()
}

func (p *cliPrompt) line() (string, error) {
	s, err := p.in.ReadString('\n')
	if err != nil && (err != io.EOF || s == "") {
		return "", fmt.Errorf("read stdin: %w", err)
	}
	return strings.TrimRight(s, "\r\n"), nil
}

// NewPassword asks for the password that replaces the temporary one (twice on a terminal).
func (p *cliPrompt) NewPassword() (string, error) {
	fmt.Fprintln(p.out, "First sign-in: choose a new password (14+ characters, upper and lower case, digits, symbols).")
	pw, err := p.secret("New password: ")
	if err != nil || p.o.passwordStdin {
		return pw, err
	}
	again, err := p.secret("Repeat new password: ")
	if err != nil {
		return "", err
	}
	if again != pw {
		return "", errors.New("the passwords differ")
	}
	return pw, nil
}

// EnrollTOTP shows the otpauth URI to add to an authenticator app and asks for its first code.
func (p *cliPrompt) EnrollTOTP(uri string) (string, error) {
	if p.o.totpSecretFile != "" {
		u, err := url.Parse(uri)
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(p.o.totpSecretFile, []byte(u.Query().Get("secret")+"\n"), 0o600); err != nil {
			return "", fmt.Errorf("save TOTP secret: %w", err)
		}
		fmt.Fprintln(p.out, "TOTP enrolled; secret saved in", p.o.totpSecretFile)
		return p.Code()
	}
	fmt.Fprintln(p.out, "Add this account to your authenticator app (TOTP):")
	fmt.Fprintln(p.out, "  "+uri)
	return p.ask("Code shown by the app: ")
}

// Code returns the current TOTP code.
func (p *cliPrompt) Code() (string, error) {
	if p.o.totpSecretFile != "" {
		b, err := os.ReadFile(p.o.totpSecretFile)
		if err != nil {
			return "", fmt.Errorf("read TOTP secret: %w", err)
		}
		return totp.GenerateCode(strings.TrimSpace(string(b)), time.Now())
	}
	return p.ask("Authenticator code: ")
}

func (p *cliPrompt) ask(prompt string) (string, error) {
	fmt.Fprint(p.out, prompt)
	return p.line()
}
