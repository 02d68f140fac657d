package billingdb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vaultbill/vaultbill/shared/adapters/customerkeys"
	"github.com/vaultbill/vaultbill/shared/adapters/envelope"
	"github.com/vaultbill/vaultbill/shared/domain/billing"
)

// # Personal data
//
// A customer item never holds its name, email, address or tax id in clear: they are sealed together
// (JSON) into the binary attribute "personal" under the customer's own key (shared/adapters/customerkeys),
// bound to the customer id. The item keeps only ids, times and the version. An item written before
// per-customer keys (plaintext attributes, no "personal") still reads; `vaultbill customers migrate`
// rewrites such items.

// CustomerKeys is what the store needs of the per-customer keys (*customerkeys.Keys).
type CustomerKeys interface {
	Create(ctx context.Context, customerID string) (*envelope.Key, types.TransactWriteItem, error)
	Get(ctx context.Context, customerID string) (*envelope.Key, error)
}

// attrPersonal is the sealed personal data of a customer item.
const attrPersonal = "personal"

// personalAttrs are the plaintext attributes a sealed customer item must not carry.
var personalAttrs = []string{"name", "email", "address", "tax_id"}

// personal is what is sealed.
type personal struct {
	Name    string           `json:"name"`
	Email   string           `json:"email"`
	Address *billing.Address `json:"address,omitempty"`
	TaxID   *string          `json:"tax_id,omitempty"`
}

func (st *Store) keys() (CustomerKeys, error) {
	if st.Keys == nil {
		return nil, errors.New("billing store has no customer keys: personal data cannot be sealed or opened")
	}
	return st.Keys, nil
}

// keyOf returns the existing key of a customer.
func (st *Store) keyOf(ctx context.Context, customerID string) (*envelope.Key, error) {
	keys, err := st.keys()
	if err != nil {
		return nil, err
	}
	key, err := keys.Get(ctx, customerID)
	if err != nil {
		return nil, fmt.Errorf("key of customer %s: %w", customerID, err)
	}
	return key, nil
}

// sealCustomer returns c's item with its personal data sealed under key.
func sealCustomer(c *billing.Customer, key *envelope.Key) (map[string]types.AttributeValue, error) {
	item, err := customerItem(c)
	if err != nil {
		return nil, err
	}
	for _, a := range personalAttrs {
		delete(item, a)
	}
	plain, err := json.Marshal(personal{Name: c.Name, Email: c.Email, Address: c.Address, TaxID: c.TaxID})
	if err != nil {
		return nil, fmt.Errorf("encode personal data of %s: %w", c.ID, err)
	}
	sealed, err := customerkeys.Seal(key, c.ID, plain)
	clear(plain)
	if err != nil {
		return nil, err
	}
	item[attrPersonal] = &types.AttributeValueMemberB{Value: sealed}
	return item, nil
}

// SealedCustomerItem is c's item with its personal data sealed under c's existing key (the
// migration of a plaintext item uses it).
func (st *Store) SealedCustomerItem(ctx context.Context, c *billing.Customer) (map[string]types.AttributeValue, error) {
	key, err := st.keyOf(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	return sealCustomer(c, key)
}

// openCustomer decodes a customer item, opening its personal data under the customer's key.
func (st *Store) openCustomer(ctx context.Context, item map[string]types.AttributeValue) (*billing.Customer, error) {
	c, err := decodeCustomer(item)
	if err != nil {
		return nil, err
	}
	sealed, ok := item[attrPersonal].(*types.AttributeValueMemberB)
	if !ok {
		return c, nil // written before per-customer keys; see the migration command
	}
	key, err := st.keyOf(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	plain, err := customerkeys.Open(key, c.ID, sealed.Value)
	if err != nil {
		return nil, fmt.Errorf("open personal data of customer %s: %w", c.ID, err)
	}
	defer clear(plain)
	var p personal
	if err := json.Unmarshal(plain, &p); err != nil {
		return nil, fmt.Errorf("decode personal data of customer %s: %w", c.ID, err)
	}
	c.Name, c.Email, c.Address, c.TaxID = p.Name, p.Email, p.Address, p.TaxID
	return c, nil
}

// IsPlaintextCustomer reports whether a customer item still holds its personal data in clear.
func IsPlaintextCustomer(item map[string]types.AttributeValue) bool {
	_, sealed := item[attrPersonal]
	return !sealed
}

// CreateCustomerItems are the writes of a new customer: the put of its new key item (item 0) and of
// the customer with its personal data sealed under that key (item 1). Each fails rather than
// overwrite on an id collision. It costs one KMS GenerateDataKey.
func (st *Store) CreateCustomerItems(ctx context.Context, c *billing.Customer) ([]types.TransactWriteItem, error) {
	keys, err := st.keys()
	if err != nil {
		return nil, err
	}
	key, keyItem, err := keys.Create(ctx, c.ID)
	if err != nil {
		return nil, fmt.Errorf("key of new customer %s: %w", c.ID, err)
	}
	item, err := sealCustomer(c, key)
	if err != nil {
		return nil, err
	}
	return []types.TransactWriteItem{keyItem, {Put: &types.Put{
		TableName: &st.Table, Item: item, ConditionExpression: strp("attribute_not_exists(pk)"),
	}}}, nil
}

// UpdateCustomerItem is the put of a changed customer, its personal data sealed under its key,
// conditioned on the version that was read (prevVersion); c.Version must already be the next one.
func (st *Store) UpdateCustomerItem(ctx context.Context, c *billing.Customer, prevVersion int64) (types.TransactWriteItem, error) {
	item, err := st.SealedCustomerItem(ctx, c)
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	return st.putAtVersion(item, prevVersion), nil
}

func strp(v string) *string { return &v }

// putAtVersion is the put of a customer item on condition that the stored one is still at prevVersion.
func (st *Store) putAtVersion(item map[string]types.AttributeValue, prevVersion int64) types.TransactWriteItem {
	return types.TransactWriteItem{Put: &types.Put{
		TableName: &st.Table, Item: item,
		ConditionExpression:       strp("#v = :v"),
		ExpressionAttributeNames:  map[string]string{"#v": attrVersion},
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": n(prevVersion)},
	}}
}

// ErasedCustomerItem is the put of an erased customer (c.Erase applied, c.Version the next one):
// ids and times only, no personal data sealed or clear, conditioned on the version read.
func (st *Store) ErasedCustomerItem(c *billing.Customer, prevVersion int64) (types.TransactWriteItem, error) {
	item, err := customerItem(c)
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	for _, a := range personalAttrs {
		delete(item, a)
	}
	return st.putAtVersion(item, prevVersion), nil
}
