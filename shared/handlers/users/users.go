// Package users serves /v1/users: inviting, listing, reading, re-roling, disabling, enabling and
// signing out the user pool's users, with separation of duties (no admin changes their own role or
// disables themselves), the last-admin rule, and a session epoch moved on every revoking change so
// that the user's earlier tokens are refused within the authorizer cache's TTL.
package users

import (
	"context"
	"errors"
	"net/http"
	"net/mail"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vaultbill/vaultbill/shared/adapters/billingdb"
	"github.com/vaultbill/vaultbill/shared/adapters/sessions"
	"github.com/vaultbill/vaultbill/shared/adapters/userpool"
	"github.com/vaultbill/vaultbill/shared/api/endpoint"
	"github.com/vaultbill/vaultbill/shared/domain/auth"
	"github.com/vaultbill/vaultbill/shared/domain/billing"
	"github.com/vaultbill/vaultbill/shared/domain/clock"
	"github.com/vaultbill/vaultbill/shared/domain/problem"
)

// Directory is the user pool as the handlers use it (userpool.Directory).
type Directory interface {
	Invite(ctx context.Context, email string, role auth.Role, customerID, tempPassword string) (userpool.User, error)
	Get(ctx context.Context, id string) (userpool.User, error)
	List(ctx context.Context, limit int32, token string) ([]userpool.User, string, error)
	EnabledAdmins(ctx context.Context) (int, error)
	SetRole(ctx context.Context, u userpool.User, role auth.Role) error
	Disable(ctx context.Context, u userpool.User) error
	Enable(ctx context.Context, u userpool.User) error
	SignOut(ctx context.Context, u userpool.User) error
}

// Customers reads the customer a customer user is tied to; its personal data is never needed here.
type Customers interface {
	GetCustomerRecord(ctx context.Context, id string) (*billing.Customer, error)
}

// Epochs writes session epochs (one DynamoDB transaction).
type Epochs interface {
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// Handlers serves the routes.
type Handlers struct {
	Pool      Directory
	Customers Customers
	Epochs    Epochs
	// Table is the billing table, which holds the session epochs.
	Table string
	Clock clock.Func
}

// Routes registers h's handlers.
func Routes(svc *endpoint.Service, h *Handlers) {
	svc.Handle("CreateUser", h.create)
	svc.Handle("ListUsers", h.list)
	svc.Handle("GetUser", h.get)
	svc.Handle("UpdateUser", h.update)
	svc.Handle("DisableUser", h.disable)
	svc.Handle("EnableUser", h.enable)
	svc.Handle("SignOutUser", h.signOut)
}

// User is the API's user object.
type User struct {
	ID         string    `json:"id"`
	Object     string    `json:"object"`
	Email      string    `json:"email"`
	Role       auth.Role `json:"role"`
	CustomerID *string   `json:"customer_id"`
	Status     string    `json:"status"`
	MFAEnabled bool      `json:"mfa_enabled"`
	CreatedAt  string    `json:"created_at"`
}

func view(u userpool.User) User {
	out := User{ID: u.ID, Object: "user", Email: u.Email, Role: u.Role, Status: string(u.Status),
		MFAEnabled: u.MFAEnabled, CreatedAt: u.CreatedAt.UTC().Format(time.RFC3339)}
	if u.CustomerID != "" {
		out.CustomerID = &u.CustomerID
	}
	return out
}

// CreateRequest is the body of POST /v1/users.
type CreateRequest struct {
	Email      string  `json:"email"`
	Role       string  `json:"role"`
	CustomerID *string `json:"customer_id"`
}

// UpdateRequest is the body of PATCH /v1/users/{id}.
type UpdateRequest struct {
	Role string `json:"role"`
}

func validRole(r string) bool { return slices.Contains(auth.Roles, auth.Role(r)) }

func validEmail(e string) bool {
	a, err := mail.ParseAddress(e)
	return err == nil && a.Address == e && a.Name == "" && len(e) <= 254 && strings.Count(e, "@") == 1
}

// subShape is a pool sub: a UUID. Checked before the id reaches the pool's ListUsers filter.
var subShape = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func (h *Handlers) create(ctx context.Context, c *endpoint.Call) (*endpoint.Result, error) {
	var req CreateRequest
	if err := c.Decode(&req); err != nil {
		return nil, err
	}
	var bad []problem.FieldError
	email := strings.ToLower(strings.TrimSpace(req.Email))
	if !validEmail(email) {
		bad = append(bad, problem.FieldError{Field: "email", Message: "must be an email address"})
	}
	if !validRole(req.Role) {
		bad = append(bad, problem.FieldError{Field: "role", Message: "must be one of admin, billing, payments, auditor, customer"})
	}
	role, customerID := auth.Role(req.Role), ""
	if req.CustomerID != nil {
		customerID = *req.CustomerID
	}
	switch {
	case role == auth.Customer && customerID == "":
		bad = append(bad, problem.FieldError{Field: "customer_id", Message: "is required for a customer user"})
	case role != auth.Customer && req.CustomerID != nil:
		bad = append(bad, problem.FieldError{Field: "customer_id", Message: "is only for customer users"})
	}
	if len(bad) > 0 {
		return nil, problem.Invalid(bad...)
	}
	if role == auth.Customer {
		if _, err := h.Customers.GetCustomerRecord(ctx, customerID); problem.CodeOf(err) == problem.NotFound {
			return nil, problem.Invalid(problem.FieldError{Field: "customer_id", Message: "no such customer"})
		} else if err != nil {
			return nil, err
		}
	}
	u, err := h.Pool.Invite(ctx, email, role, customerID, "")
	if errors.Is(err, userpool.ErrExists) {
		return nil, problem.New(problem.InvalidState, "A user with this email exists.")
	}
	if err != nil {
		return nil, err
	}
	h.touch(c, u.ID, role)
	return c.Commit(ctx, http.StatusCreated, view(u))
}

// touch names the user in the audit record, and the admin role when the change grants it: the
// automated review alerts on every grant of admin (shared/ops/auditreview).
func (h *Handlers) touch(c *endpoint.Call, id string, granted auth.Role) {
	c.Touch("user", id)
	if granted == auth.Admin {
		c.Touch("role", string(auth.Admin))
	}
}

func (h *Handlers) target(ctx context.Context, c *endpoint.Call) (userpool.User, error) {
	id := c.PathParam("id")
	if !subShape.MatchString(id) {
		return userpool.User{}, problem.New(problem.NotFound, "No such user.")
	}
	u, err := h.Pool.Get(ctx, id)
	if errors.Is(err, userpool.ErrNotFound) {
		return userpool.User{}, problem.New(problem.NotFound, "No such user.")
	}
	return u, err
}

func (h *Handlers) get(ctx context.Context, c *endpoint.Call) (*endpoint.Result, error) {
	u, err := h.target(ctx, c)
	if err != nil {
		return nil, err
	}
	c.Touch("user", u.ID)
	return &endpoint.Result{Status: http.StatusOK, Body: view(u)}, nil
}

// maxPage is Cognito's ListUsers limit.
const maxPage = 60

func (h *Handlers) list(ctx context.Context, c *endpoint.Call) (*endpoint.Result, error) {
	limit := 20
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > maxPage {
			return nil, problem.Invalid(problem.FieldError{Field: "limit", Message: "must be 1 to 60"})
		}
		limit = n
	}
	users, next, err := h.Pool.List(ctx, int32(limit), c.Query("cursor"))
	if err != nil {
		return nil, err
	}
	data := make([]User, 0, len(users))
	for _, u := range users {
		data = append(data, view(u))
	}
	return &endpoint.Result{Status: http.StatusOK, Body: billingdb.List[User]{Object: "list", Data: data, HasMore: next != "", NextCursor: next}}, nil
}

// guard applies separation of duties and the last-admin rule to a change that takes target's
// privileges away (demotion or disable).
func (h *Handlers) guard(ctx context.Context, c *endpoint.Call, target userpool.User) error {
	if target.ID == c.Principal.ID {
		return problem.New(problem.Forbidden, "An administrator cannot change their own role or disable themselves.")
	}
	if target.Role != auth.Admin || target.Status == userpool.Disabled {
		return nil
	}
	n, err := h.Pool.EnabledAdmins(ctx)
	if err != nil {
		return err
	}
	if n <= 1 {
		return problem.New(problem.InvalidState, "The last enabled administrator cannot be demoted or disabled.")
	}
	return nil
}

// revoke writes the user's session epoch before the pool change, so that no token issued while the
// change is under way outlives it; Commit writes it again with the audit record after the change.
func (h *Handlers) revoke(ctx context.Context, id string) (types.TransactWriteItem, error) {
	item := sessions.RevokeItem(h.Table, id, h.Clock.Now())
	if _, err := h.Epochs.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{item}}); err != nil {
		return item, err
	}
	return sessions.RevokeItem(h.Table, id, h.Clock.Now()), nil
}

func (h *Handlers) update(ctx context.Context, c *endpoint.Call) (*endpoint.Result, error) {
	var req UpdateRequest
	if err := c.Decode(&req); err != nil {
		return nil, err
	}
	if !validRole(req.Role) {
		return nil, problem.Invalid(problem.FieldError{Field: "role", Message: "must be one of admin, billing, payments, auditor, customer"})
	}
	role := auth.Role(req.Role)
	u, err := h.target(ctx, c)
	if err != nil {
		return nil, err
	}
	if u.ID == c.Principal.ID {
		return nil, problem.New(problem.Forbidden, "An administrator cannot change their own role or disable themselves.")
	}
	if role == auth.Customer && u.CustomerID == "" {
		return nil, problem.Invalid(problem.FieldError{Field: "role", Message: "a customer user needs a customer; invite a new user"})
	}
	if u.Role == auth.Admin && role != auth.Admin {
		if err := h.guard(ctx, c, u); err != nil {
			return nil, err
		}
	}
	return h.change(ctx, c, u, role, func(u userpool.User) error { return h.Pool.SetRole(ctx, u, role) }, func(u *userpool.User) { u.Role = role })
}

// change revokes u's sessions, applies the pool change and commits the epoch with the audit record.
func (h *Handlers) change(ctx context.Context, c *endpoint.Call, u userpool.User, granted auth.Role, apply func(userpool.User) error, show func(*userpool.User)) (*endpoint.Result, error) {
	h.touch(c, u.ID, granted)
	epoch, err := h.revoke(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	if err := apply(u); err != nil {
		return nil, err
	}
	show(&u)
	return c.Commit(ctx, http.StatusOK, view(u), epoch)
}

func (h *Handlers) disable(ctx context.Context, c *endpoint.Call) (*endpoint.Result, error) {
	u, err := h.target(ctx, c)
	if err != nil {
		return nil, err
	}
	if err := h.guard(ctx, c, u); err != nil {
		return nil, err
	}
	return h.change(ctx, c, u, "", func(u userpool.User) error { return h.Pool.Disable(ctx, u) }, func(u *userpool.User) { u.Status = userpool.Disabled })
}

func (h *Handlers) signOut(ctx context.Context, c *endpoint.Call) (*endpoint.Result, error) {
	u, err := h.target(ctx, c)
	if err != nil {
		return nil, err
	}
	return h.change(ctx, c, u, "", func(u userpool.User) error { return h.Pool.SignOut(ctx, u) }, func(*userpool.User) {})
}

func (h *Handlers) enable(ctx context.Context, c *endpoint.Call) (*endpoint.Result, error) {
	u, err := h.target(ctx, c)
	if err != nil {
		return nil, err
	}
	if err := h.Pool.Enable(ctx, u); err != nil {
		return nil, err
	}
	c.Touch("user", u.ID)
	if fresh, err := h.Pool.Get(ctx, u.ID); err == nil { // an invited user who never signed in stays invited
		u = fresh
	} else {
		u.Status = userpool.Active
	}
	return c.Commit(ctx, http.StatusOK, view(u))
}
