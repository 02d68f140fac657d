package audittrail_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/vaultbill/vaultbill/shared/ops/audittrail"
)

// publicKeysStub serves CloudTrail's ListPublicKeys (JSON 1.1) with the trail's signing key, so the
// AWS CLI can fetch it as it fetches CloudTrail's own keys.
func publicKeysStub(t *testing.T, tr *trail) string {
	t.Helper()
	out, err := kms.NewFromConfig(tr.s.Env.AWS).GetPublicKey(context.Background(), &kms.GetPublicKeyInput{KeyId: aws.String(tr.s.Env.Config.AuditSigningKeyID)})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := audittrail.ParsePublicKey(out.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	// Value is the PKCS #1 DER key in base64, which the CLI decodes and loads with rsa.PublicKey.load_pkcs1.
	value := base64.StdEncoding.EncodeToString(x509.MarshalPKCS1PublicKey(pub))
	body, _ := json.Marshal(map[string]any{"PublicKeyList": []map[string]any{{
		"Value":             value,
		"ValidityStartTime": time.Now().Add(-30 * 24 * time.Hour).Unix(),
		"ValidityEndTime":   time.Now().Add(30 * 24 * time.Hour).Unix(),
		"Fingerprint":       audittrail.Fingerprint(pub),
	}}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Amz-Target") != "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.ListPublicKeys" {
			http.Error(w, `{"__type":"UnsupportedOperationException"}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// awsValidateLogs runs the installed AWS CLI's `aws cloudtrail validate-logs` on the trail: CloudTrail
// calls go to the stub, S3 calls to the emulator (AWS_ENDPOINT_URL_S3, which botocore honours).
func awsValidateLogs(t *testing.T, tr *trail, stub string) (string, int) {
	t.Helper()
	cli, err := exec.LookPath("aws")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("the AWS CLI is not installed")
		}
		t.Skip("the AWS CLI is not installed")
	}
	c := tr.s.Env.Config
	arn := fmt.Sprintf("arn:aws:cloudtrail:%s:%s:trail/%s", c.Region, c.Account, audittrail.TrailName)
	cmd := exec.Command(cli, "cloudtrail", "validate-logs", "--trail-arn", arn,
		"--start-time", time.Now().Add(-24*time.Hour).UTC().Format(time.RFC3339), "--s3-bucket", c.AuditBucket,
		"--endpoint-url", stub, "--region", c.Region, "--verbose")
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "AWS_ENDPOINT_URL_S3="+tr.s.Emulator.Endpoint, "AWS_ACCESS_KEY_ID=test",
		"AWS_SECRET_ACCESS_KEY=test", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("run aws: %v", err)
	}
	return out.String(), cmd.ProcessState.ExitCode()
}

// TestAWSCLIValidatesTrail checks the trail with a validator nobody here wrote: the AWS CLI accepts
// every digest and log file of a fresh trail, and reports a modified and a deleted log file.
func TestAWSCLIValidatesTrail(t *testing.T) {
	tr := newTrail(t)
	digests := tr.hours(t, 3)
	logs := tr.logKeys(t)
	stub := publicKeysStub(t, tr)
	out, code := awsValidateLogs(t, tr, stub)
	want := fmt.Sprintf("%d/%d digest files valid\n%d/%d log files valid", len(digests), len(digests), len(logs), len(logs))
	if code != 0 || !strings.Contains(out, want) || strings.Contains(out, "INVALID") {
		t.Fatalf("aws cloudtrail validate-logs: exit %d, want 0 and %q:\n%s", code, want, out)
	}

	body, meta := tr.get(t, logs[1])
	tr.put(t, logs[1], bytes.Replace(body, []byte(`"eventName":"`), []byte(`"eventName":"x`), 1), meta)
	tr.del(t, logs[3])
	out, code = awsValidateLogs(t, tr, stub)
	bucket := tr.s.Env.Config.AuditBucket
	for _, line := range []string{
		"Log file\ts3://" + bucket + "/" + logs[1] + "\tINVALID: hash value doesn't match",
		"Log file\ts3://" + bucket + "/" + logs[3] + "\tINVALID: not found",
		fmt.Sprintf("%d/%d log files valid, 2/%d log files INVALID", len(logs)-2, len(logs), len(logs)),
	} {
		if !strings.Contains(out, line) {
			t.Errorf("aws cloudtrail validate-logs output lacks %q", line)
		}
	}
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}
