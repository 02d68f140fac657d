package tokens_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/vaultbill/vaultbill/shared/adapters/audit"
	"github.com/vaultbill/vaultbill/shared/adapters/customerkeys"
	"github.com/vaultbill/vaultbill/shared/adapters/envelope"
	"github.com/vaultbill/vaultbill/shared/adapters/s3client"
	"github.com/vaultbill/vaultbill/shared/adapters/vault"
	"github.com/vaultbill/vaultbill/shared/api/endpoint"
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/domain/auth"
	"github.com/vaultbill/vaultbill/shared/domain/card"
	"github.com/vaultbill/vaultbill/shared/handlers/tokens"
	"github.com/vaultbill/vaultbill/shared/local/devstack"
	"github.com/vaultbill/vaultbill/shared/local/devstack/stacktest"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
	"github.com/vaultbill/vaultbill/shared/wiring"
	cardwiring "github.com/vaultbill/vaultbill/shared/wiring/cards"
)

// seedCustomer stores a customer as the invoicing function does: its key item (shared/adapters/customerkeys,
// which seals its cardholder names) and its item (pk "CUS#<id>", sk "CUS").
func seedCustomer(tb testing.TB, s *devstack.Stack, id string) {
	tb.Helper()
	db := dynamodb.NewFromConfig(s.Env.AWS)
	c := s.Env.Config
	_, key, err := customerkeys.New(kms.NewFromConfig(s.Env.AWS), db, c.BillingTable, c.DataKeyID).Create(context.Background(), id)
	if err != nil {
		tb.Fatalf("key of customer %s: %v", id, err)
	}
	_, err = db.TransactWriteItems(context.Background(), &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{key, {
		Put: &types.Put{TableName: aws.String(c.BillingTable), Item: map[string]types.AttributeValue{
			resources.PK: &types.AttributeValueMemberS{Value: "CUS#" + id},
			resources.SK: &types.AttributeValueMemberS{Value: "CUS"},
		}},
	}}})
	if err != nil {
		tb.Fatalf("seed customer %s: %v", id, err)
	}
}

// cardNumber returns a Luhn-valid 16-digit Visa number made from n.
func cardNumber(n int) string {
	body := fmt.Sprintf("4%014d", n)
	for d := '0'; d <= '9'; d++ {
		if card.Luhn([]byte(body + string(d))) {
			return body + string(d)
		}
	}
	panic("unreachable")
}

func createBody(customerID, number, cvc string) string {
	b, _ := json.Marshal(map[string]any{
		"customer_id": customerID,
		"card":        map[string]any{"number": number, "exp_month": 12, "exp_year": 2034, "cvc": cvc, "name": "Ada Lovelace"},
	})
	return string(b)
}

// event builds the proxy event API Gateway would send for a route, with the authorizer's principal.
func event(method, resource, path string, params map[string]string, p auth.Principal, body string) events.APIGatewayProxyRequest {
	ctx := p.Context()
	return events.APIGatewayProxyRequest{
		Resource: resource, Path: path, HTTPMethod: method, PathParameters: params, Body: body,
		Headers: map[string]string{"Content-Type": "application/json"},
		RequestContext: events.APIGatewayProxyRequestContext{
			RequestID: audit.NewEventID(), Authorizer: ctx,
			Identity: events.APIGatewayRequestIdentity{SourceIP: "127.0.0.1", UserAgent: "test"},
		},
	}
}

var paymentsUser = auth.Principal{ID: "payments-user", Username: "payments-user", Role: auth.Payments, MFA: true}

// countingKMS is a KMS client on the emulator whose calls are counted.
func countingKMS(s *devstack.Stack) (*kms.Client, *stacktest.Calls) {
	cfg, calls := stacktest.CountCalls(s.Env.AWS)
	return kms.NewFromConfig(cfg), calls
}

// serviceWith builds the tokens function over the stack's resources with the given KMS client.
func serviceWith(tb testing.TB, s *devstack.Stack, client envelope.KMS) (*endpoint.Service, *vault.Vault) {
	tb.Helper()
	svc, err := wiring.Service(s.Env, routes.Tokens)
	if err != nil {
		tb.Fatal(err)
	}
	db := dynamodb.NewFromConfig(s.Env.AWS)
	c := s.Env.Config
	v := vault.New(vault.Config{
		DB: db, KMS: client, Table: c.VaultTable, KeyID: c.VaultKeyID,
		Audit:        &audit.Store{DB: db, Table: c.AuditTable},
		CustomerKeys: customerkeys.New(client, db, c.BillingTable, c.DataKeyID),
	})
	limiter, err := cardwiring.Limiter(s.Env, db)
	if err != nil {
		tb.Fatal(err)
	}
	tokens.Routes(svc, tokens.Deps{Vault: v, Attempts: limiter, Customers: db, BillingTable: c.BillingTable})
	return svc, v
}

// everythingStored returns every item of every table and every object of every bucket of the stack,
// as text, for secret scans. Binary attributes appear base64-encoded, as in the DynamoDB JSON API.
func everythingStored(tb testing.TB, s *devstack.Stack) string {
	tb.Helper()
	ctx := context.Background()
	db := dynamodb.NewFromConfig(s.Env.AWS)
	var sb strings.Builder
	for _, t := range resources.Tables {
		in := &dynamodb.ScanInput{TableName: aws.String(s.Names.Table(t.ID))}
		for {
			out, err := db.Scan(ctx, in)
			if err != nil {
				tb.Fatalf("scan %s: %v", t.ID, err)
			}
			for _, item := range out.Items {
				writeItem(&sb, item)
			}
			if out.LastEvaluatedKey == nil {
				break
			}
			in.ExclusiveStartKey = out.LastEvaluatedKey
		}
	}
	s3c := s3client.New(s.Env.AWS)
	for _, b := range resources.Buckets {
		name := aws.String(s.Names.Bucket(b.ID))
		out, err := s3c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: name})
		if err != nil {
			tb.Fatalf("list bucket %s: %v", b.ID, err)
		}
		for _, v := range out.Versions {
			obj, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: name, Key: v.Key, VersionId: v.VersionId})
			if err != nil {
				tb.Fatalf("get %s/%s: %v", b.ID, aws.ToString(v.Key), err)
			}
			body, _ := io.ReadAll(obj.Body)
			obj.Body.Close()
			sb.Write(body)
			sb.WriteByte('\n')
		}
	}
	return sb.String()
}

func writeItem(sb *strings.Builder, item map[string]types.AttributeValue) {
	for k, v := range item {
		sb.WriteString(k + "=")
		switch v := v.(type) {
		case *types.AttributeValueMemberS:
			sb.WriteString(v.Value)
		case *types.AttributeValueMemberN:
			sb.WriteString(v.Value)
		case *types.AttributeValueMemberB:
			sb.WriteString(base64.StdEncoding.EncodeToString(v.Value) + " " + hex.EncodeToString(v.Value) + " " + string(v.Value))
		default:
			b, _ := json.Marshal(v)
			sb.Write(b)
		}
		sb.WriteByte('\n')
	}
}

// secretForms are the ways a card number could leak into storage.
func secretForms(number string) []string {
	b := []byte(number)
	return []string{
		number, number[len(number)-12:],
		base64.StdEncoding.EncodeToString(b), base64.RawStdEncoding.EncodeToString(b),
		base64.URLEncoding.EncodeToString(b), hex.EncodeToString(b),
	}
}

func countTokens(tb testing.TB, s *devstack.Stack) int {
	tb.Helper()
	out, err := dynamodb.NewFromConfig(s.Env.AWS).Scan(context.Background(), &dynamodb.ScanInput{
		TableName:        aws.String(s.Env.Config.VaultTable),
		FilterExpression: aws.String("begins_with(pk, :t)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":t": &types.AttributeValueMemberS{Value: "TOK#"},
		},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return len(out.Items)
}

func decode[T any](tb testing.TB, body string) T {
	tb.Helper()
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		tb.Fatalf("body is not the expected JSON: %v: %s", err, body)
	}
	return v
}

var _ = http.StatusOK

func validCard(tb testing.TB, number string) card.Card {
	tb.Helper()
	c, err := card.Validate(card.Input{Number: card.NewPAN([]byte(number)), ExpMonth: 12, ExpYear: 2034}, time.Now(), "")
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func kmsClient(s *devstack.Stack) *kms.Client { return kms.NewFromConfig(s.Env.AWS) }
