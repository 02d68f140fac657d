package backup

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// TestReinvokeIsASignedAsynchronousInvoke: a continuation is Lambda's Invoke of the function itself,
// InvocationType Event, SigV4-signed for the lambda service, with the job as the payload.
func TestReinvokeIsASignedAsynchronousInvoke(t *testing.T) {
	var got *http.Request
	var body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got, body = r, string(b)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	r := &Runner{Reinvoke: &Reinvoker{Function: "vaultbill-backup", Config: aws.Config{
		Region: "eu-west-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
	}}}
	if err := r.continueWith(context.Background(), BackupEvent{Continue: &BackupJob{ID: "20260115T030000.000Z", Invocation: 2}}); err != nil {
		t.Fatal(err)
	}
	if got.Method != http.MethodPost || got.URL.Path != "/2015-03-31/functions/vaultbill-backup/invocations" ||
		got.Header.Get("X-Amz-Invocation-Type") != "Event" {
		t.Errorf("request %s %s, invocation type %q", got.Method, got.URL.Path, got.Header.Get("X-Amz-Invocation-Type"))
	}
	if a := got.Header.Get("Authorization"); !strings.HasPrefix(a, "AWS4-HMAC-SHA256 Credential=AKID/") || !strings.Contains(a, "/eu-west-1/lambda/aws4_request") {
		t.Errorf("authorization %q", a)
	}
	if !strings.Contains(body, `"continue":{"backupId":"20260115T030000.000Z","invocation":2}`) {
		t.Errorf("payload %s", body)
	}

	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, `{"Message":"denied"}`, http.StatusForbidden)
	})
	if err := r.continueWith(context.Background(), BackupEvent{}); err == nil || !strings.Contains(err.Error(), "denied") {
		t.Errorf("a refused invoke: %v, want the error", err)
	}
}
