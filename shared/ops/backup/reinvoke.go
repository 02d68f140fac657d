package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Reinvoker continues a paused run in a new, asynchronous invocation of the running function. It
// makes the one Lambda call a backup function needs (Invoke, InvocationType Event) as a signed HTTP
// request: the Lambda SDK client would add 0.8 MiB to the binary for it.
type Reinvoker struct {
	// Function is the running function's name (AWS_LAMBDA_FUNCTION_NAME).
	Function string
	// Config gives the region, credentials, HTTP client and, locally, the endpoint.
	Config aws.Config
}

// Invoke queues an asynchronous invocation of the function with payload. Lambda's asynchronous
// retries cover a continuation that fails, with the same payload.
func (v *Reinvoker) Invoke(ctx context.Context, payload []byte) error {
	endpoint := "https://lambda." + v.Config.Region + ".amazonaws.com"
	if v.Config.BaseEndpoint != nil {
		endpoint = *v.Config.BaseEndpoint
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		endpoint+"/2015-03-31/functions/"+url.PathEscape(v.Function)+"/invocations", bytes.NewReader(payload))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Amz-Invocation-Type", "Event")
	if v.Config.Credentials == nil {
		return errors.New("no credentials to invoke with")
	}
	creds, err := v.Config.Credentials.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	sum := sha256.Sum256(payload)
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "lambda", v.Config.Region, time.Now()); err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	var client aws.HTTPClient = http.DefaultClient
	if v.Config.HTTPClient != nil {
		client = v.Config.HTTPClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("lambda answered %s: %s", resp.Status, bytes.TrimSpace(body))
	}
	return nil
}

// continueWith invokes the function again, asynchronously, with payload.
func (r *Runner) continueWith(ctx context.Context, payload any) error {
	if r.Reinvoke == nil {
		return errors.New("the run needs another invocation, and this runner cannot invoke one")
	}
	b, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("encode continuation: %w", err)
	}
	if err := r.Reinvoke.Invoke(ctx, b); err != nil {
		return fmt.Errorf("continue in a new invocation of %s: %w", r.Reinvoke.Function, err)
	}
	return nil
}
