package billing

import (
	"encoding/json"
	"net/mail"
	"strings"
	"unicode/utf8"

	"github.com/vaultbill/vaultbill/shared/domain/problem"
)

// ObjectCustomer is the "object" of a customer.
const ObjectCustomer = "customer"

// Address is a postal address. Country is an ISO 3166-1 alpha-2 code.
type Address struct {
	Line1      string  `json:"line1" dynamodbav:"line1"`
	Line2      *string `json:"line2,omitempty" dynamodbav:"line2,omitempty"`
	City       string  `json:"city" dynamodbav:"city"`
	PostalCode string  `json:"postal_code" dynamodbav:"postal_code"`
	Country    string  `json:"country" dynamodbav:"country"`
}

// Customer is someone invoices are addressed to. Name, email and address are personal data: they are
// returned to authorized callers but never written to logs or audit records.
type Customer struct {
	ID        string   `json:"id" dynamodbav:"id"`
	Object    string   `json:"object" dynamodbav:"-"`
	Name      string   `json:"name" dynamodbav:"name"`
	Email     string   `json:"email" dynamodbav:"email"`
	Address   *Address `json:"address" dynamodbav:"address,omitempty"`
	TaxID     *string  `json:"tax_id" dynamodbav:"tax_id,omitempty"`
	CreatedAt string   `json:"created_at" dynamodbav:"created_at"`
	UpdatedAt string   `json:"updated_at" dynamodbav:"updated_at"`
	// Version increases with every stored change; writes are conditional on it.
	Version int64 `json:"-" dynamodbav:"version"`
	// Erased and ErasedAt mark a customer whose personal data was destroyed (crypto-shredding): it
	// reads with null personal fields and can no longer be changed, invoiced or tokenized for.
	Erased   bool    `json:"erased" dynamodbav:"erased,omitempty"`
	ErasedAt *string `json:"erased_at" dynamodbav:"erased_at,omitempty"`
}

// MarshalJSON renders an erased customer's name and email as null, like its other personal fields.
func (c Customer) MarshalJSON() ([]byte, error) {
	type plain Customer
	if !c.Erased {
		return json.Marshal(plain(c))
	}
	return json.Marshal(struct {
		plain
		Name  *string `json:"name"`
		Email *string `json:"email"`
	}{plain: plain(c)})
}

// Erase destroys c's personal data in memory and marks it erased at now.
func (c *Customer) Erase(now string) {
	c.Name, c.Email, c.Address, c.TaxID = "", "", nil, nil
	c.Erased, c.ErasedAt, c.UpdatedAt = true, &now, now
}

// ErrErased is the refusal of a change for an erased customer.
func ErrErased() error {
	return problem.New(problem.CustomerErased, "The customer was erased; it cannot be changed, invoiced or tokenized for.")
}

// CustomerInput is the body of POST /v1/customers.
type CustomerInput struct {
	Name    string   `json:"name"`
	Email   string   `json:"email"`
	Address *Address `json:"address"`
	TaxID   *string  `json:"tax_id"`
}

// CustomerPatch is the body of PATCH /v1/customers/{id}: a JSON merge patch. Absent fields are kept,
// null removes an optional field, and an address, when given, replaces the whole address.
type CustomerPatch struct {
	Name    Optional[string]  `json:"name"`
	Email   Optional[string]  `json:"email"`
	Address Optional[Address] `json:"address"`
	TaxID   Optional[string]  `json:"tax_id"`
}

// Field length limits.
const (
	MaxNameLength  = 200
	MaxEmailLength = 254
	MaxTaxIDLength = 64
	maxAddrLength  = 200
)

// NewCustomer validates in and returns the customer it describes.
func NewCustomer(id string, in CustomerInput, now string) (*Customer, error) {
	c := &Customer{
		ID: id, Object: ObjectCustomer, Name: in.Name, Email: in.Email, Address: in.Address, TaxID: in.TaxID,
		CreatedAt: now, UpdatedAt: now, Version: 1,
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// ApplyPatch merges p into c and validates the result; c is unchanged on error.
func (c *Customer) ApplyPatch(p CustomerPatch, now string) error {
	next := *c
	var errs Errors
	if p.Name.Null {
		errs.Add("name", "is required and cannot be null")
	} else if p.Name.Set {
		next.Name = p.Name.Value
	}
	if p.Email.Null {
		errs.Add("email", "is required and cannot be null")
	} else if p.Email.Set {
		next.Email = p.Email.Value
	}
	if p.Address.Set {
		next.Address = p.Address.Ptr()
	}
	if p.TaxID.Set {
		next.TaxID = p.TaxID.Ptr()
	}
	if err := next.Validate(); err != nil {
		errs = append(errs, problem.From(err).Fields...)
	}
	if err := errs.Err(); err != nil {
		return err
	}
	next.UpdatedAt = now
	*c = next
	return nil
}

// Validate checks every field of c and reports all that are invalid at once.
func (c *Customer) Validate() error {
	var errs Errors
	switch n := strings.TrimSpace(c.Name); {
	case n == "":
		errs.Add("name", "is required")
	case utf8.RuneCountInString(c.Name) > MaxNameLength:
		errs.Add("name", "must be at most 200 characters")
	}
	switch {
	case c.Email == "":
		errs.Add("email", "is required")
	case !ValidEmail(c.Email):
		errs.Add("email", "must be an email address such as name@example.com")
	}
	if a := c.Address; a != nil {
		required := func(field, v string) {
			switch {
			case strings.TrimSpace(v) == "":
				errs.Add("address."+field, "is required")
			case utf8.RuneCountInString(v) > maxAddrLength:
				errs.Add("address."+field, "must be at most 200 characters")
			}
		}
		required("line1", a.Line1)
		if a.Line2 != nil && utf8.RuneCountInString(*a.Line2) > maxAddrLength {
			errs.Add("address.line2", "must be at most 200 characters")
		}
		required("city", a.City)
		required("postal_code", a.PostalCode)
		if !ValidCountry(a.Country) {
			errs.Add("address.country", "must be an ISO 3166-1 alpha-2 country code such as DE")
		}
	}
	if t := c.TaxID; t != nil && (strings.TrimSpace(*t) == "" || utf8.RuneCountInString(*t) > MaxTaxIDLength) {
		errs.Add("tax_id", "must be 1 to 64 characters")
	}
	return errs.Err()
}

// ValidEmail checks the shape of an email address: one plain addr-spec, no display name, a dotted domain.
// Whether the mailbox exists is not knowable here.
func ValidEmail(s string) bool {
	if len(s) > MaxEmailLength || strings.ContainsAny(s, " \t\r\n<>") {
		return false
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	domain := s[at+1:]
	return at > 0 && strings.Contains(domain, ".") && !strings.HasPrefix(domain, ".") && !strings.HasSuffix(domain, ".")
}

// ValidCountry reports whether s is an officially assigned ISO 3166-1 alpha-2 code (upper case).
func ValidCountry(s string) bool {
	if len(s) != 2 || s[0] < 'A' || s[0] > 'Z' || s[1] < 'A' || s[1] > 'Z' {
		return false
	}
	return strings.Contains(countries, " "+s+" ")
}

// countries is every officially assigned ISO 3166-1 alpha-2 code, space separated.
const countries = " AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS " +
	"BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES " +
	"ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM " +
	"IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME " +
	"MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG " +
	"PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY " +
	"SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW "
