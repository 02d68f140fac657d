// Package hostedlink is the capability behind the hosted invoice page: a link that lets whoever holds
// it see one invoice and pay it by card, without an account. The link is 256 random bits; only its
// SHA-256 is stored (a hash of a secret that long cannot be reversed by guessing), it expires, and it is
// checked against the invoice's status on every use, so paying, voiding or writing off the invoice
// revokes it at once.
package hostedlink

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vaultbill/vaultbill/shared/adapters/billingdb"
	"github.com/vaultbill/vaultbill/shared/api/endpoint"
	"github.com/vaultbill/vaultbill/shared/domain/auth"
	"github.com/vaultbill/vaultbill/shared/domain/billing"
	"github.com/vaultbill/vaultbill/shared/domain/clock"
	"github.com/vaultbill/vaultbill/shared/domain/problem"
	"github.com/vaultbill/vaultbill/shared/ops/resources"
)

// PageOperation is the route that still answers for a spent link: it shows the paid (or void) state.
const PageOperation = "GetHostedInvoicePage"

// secretBytes is the link's entropy: 256 bits, twice the 128 the capability needs.
const secretBytes = 32

// secretLen is the length of a link secret in unpadded base64url.
var secretLen = base64.RawURLEncoding.EncodedLen(secretBytes)

// DefaultTTL is how long a link lasts when the request names no other duration.
const DefaultTTL = 7 * 24 * time.Hour

// MaxTTL bounds a link's life.
const MaxTTL = 30 * 24 * time.Hour

// keepExpired is how long an expired link's item is kept, so its holder is told it expired rather
// than that it never existed; DynamoDB's TTL deletes it afterwards.
const keepExpired = 7 * 24 * time.Hour

// KeyPrefix starts the partition key of every link item; the hosted-page function may put items
// under it and nowhere else in the billing table.
const KeyPrefix = resources.LinkKeyPrefix

const (
	linkPK = KeyPrefix
	linkSK = "LINK"
)

// DB is the DynamoDB calls the link store makes.
type DB interface {
	billingdb.DB
}

// Store reads links and prepares their writes, in the billing table.
type Store struct {
	DB    DB
	Table string
	Clock clock.Func
}

// Link is a stored link, without its secret.
type Link struct {
	ID         string
	InvoiceID  string
	CustomerID string
	ExpiresAt  time.Time
}

// hash is the stored form of a secret.
func hash(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// idOf names a link in audit records and logs: a prefix of its hash, which says nothing of the secret.
func idOf(h string) string { return "hpl_" + h[:24] }

// New makes a link to inv that expires after ttl: its secret (for the URL, shown once), the link, and
// the item that stores it, for the caller's transaction with its audit record.
func (st *Store) New(inv *billing.Invoice, ttl time.Duration) (string, Link, types.TransactWriteItem, error) {
	var b [secretBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", Link{}, types.TransactWriteItem{}, fmt.Errorf("link secret: %w", err)
	}
	secret := base64.RawURLEncoding.EncodeToString(b[:])
	h := hash(secret)
	now := st.Clock.Now().UTC()
	l := Link{ID: idOf(h), InvoiceID: inv.ID, CustomerID: inv.CustomerID, ExpiresAt: now.Add(ttl).Truncate(time.Second)}
	item := map[string]types.AttributeValue{
		resources.PK:        &types.AttributeValueMemberS{Value: linkPK + h},
		resources.SK:        &types.AttributeValueMemberS{Value: linkSK},
		"link_id":           &types.AttributeValueMemberS{Value: l.ID},
		"invoice_id":        &types.AttributeValueMemberS{Value: l.InvoiceID},
		"customer_id":       &types.AttributeValueMemberS{Value: l.CustomerID},
		"expires_at":        &types.AttributeValueMemberN{Value: strconv.FormatInt(l.ExpiresAt.Unix(), 10)},
		"created_at":        &types.AttributeValueMemberS{Value: now.Format(time.RFC3339)},
		resources.ExpiresAt: &types.AttributeValueMemberN{Value: strconv.FormatInt(l.ExpiresAt.Add(keepExpired).Unix(), 10)},
	}
	return secret, l, types.TransactWriteItem{Put: &types.Put{
		TableName: aws.String(st.Table), Item: item,
		// 256 random bits never collide; the condition makes sure a link is never overwritten anyway.
		ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{"#pk": resources.PK},
	}}, nil
}

// Errors of a link that does not grant anything. Neither says which invoice it was for.
var (
	errNoLink  = problem.New(problem.NotFound, "This payment link is not valid. Ask the business for a new one.")
	errExpired = problem.New(problem.NotFound, "This payment link has expired. Ask the business for a new one.")
	errSpent   = problem.New(problem.InvalidState, "This invoice is no longer open for payment.")
)

// Lookup finds the link for secret; a malformed, unknown or expired secret is a not-found problem.
func (st *Store) Lookup(ctx context.Context, secret string) (Link, error) {
	if len(secret) != secretLen {
		return Link{}, errNoLink
	}
	if _, err := base64.RawURLEncoding.DecodeString(secret); err != nil {
		return Link{}, errNoLink
	}
	h := hash(secret)
	out, err := st.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(st.Table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{
			resources.PK: &types.AttributeValueMemberS{Value: linkPK + h},
			resources.SK: &types.AttributeValueMemberS{Value: linkSK},
		},
	})
	if err != nil {
		return Link{}, fmt.Errorf("get link: %w", err)
	}
	if out.Item == nil {
		return Link{}, errNoLink
	}
	l := Link{ID: idOf(h), InvoiceID: str(out.Item["invoice_id"]), CustomerID: str(out.Item["customer_id"])}
	exp, err := strconv.ParseInt(num(out.Item["expires_at"]), 10, 64)
	if err != nil || l.InvoiceID == "" || l.CustomerID == "" {
		return Link{}, fmt.Errorf("link %s: malformed item", l.ID)
	}
	l.ExpiresAt = time.Unix(exp, 0).UTC()
	if !st.Clock.Now().Before(l.ExpiresAt) {
		return Link{}, errExpired
	}
	return l, nil
}

// Resolver is the endpoint runtime's Capability for the functions that serve the page's routes: the
// link's grant is the invoice's customer, on that invoice only. Every use reads the invoice, so only
// an open invoice can be paid through its link; the page itself still shows a spent link's final state.
func Resolver(links *Store, invoices *billingdb.Store) func(ctx context.Context, operation, secret string) (endpoint.Grant, error) {
	return func(ctx context.Context, operation, secret string) (endpoint.Grant, error) {
		l, err := links.Lookup(ctx, secret)
		if err != nil {
			return endpoint.Grant{}, err
		}
		inv, err := invoices.Get(ctx, l.InvoiceID)
		if err != nil {
			if problem.CodeOf(err) == problem.NotFound {
				return endpoint.Grant{}, errNoLink
			}
			return endpoint.Grant{}, err
		}
		if inv.Status != billing.Open && operation != PageOperation {
			return endpoint.Grant{}, errSpent
		}
		return endpoint.Grant{
			Principal: auth.Principal{ID: "link:" + l.ID, Role: auth.Customer, CustomerID: inv.CustomerID},
			LinkID:    l.ID, InvoiceID: inv.ID,
		}, nil
	}
}

func str(v types.AttributeValue) string {
	if s, ok := v.(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

func num(v types.AttributeValue) string {
	if n, ok := v.(*types.AttributeValueMemberN); ok {
		return n.Value
	}
	return ""
}
