package backup

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// # Re-wrapping the keys of backups
//
// A manifest holds two wrapped keys: the backup's data key (under the backup KMS key) and, in backups
// of the vault table, the vault key canary (under the vault KMS key). Re-wrapping one re-encrypts it
// under another KMS key with KMS ReEncrypt, so the wrap itself never exposes it; the manifest's MAC
// covers both, so the manifest is authenticated with its data key before it is rewritten and
// MAC'd again with the same data key. That unwrap is the one a restore of the backup makes anyway:
// the parts are not touched, and a tampered manifest is refused, never laundered under the new key.

// RewrapKind says which wrapped key of the manifests RewrapManifests re-encrypts.
type RewrapKind int

const (
	// RewrapDataKeys re-encrypts every backup's data key (the backup key).
	RewrapDataKeys RewrapKind = iota
	// RewrapCanaries re-encrypts the vault key canary of every vault backup (the vault key).
	RewrapCanaries
)

// ReEncrypter is the KMS call of a rewrap; *kms.Client satisfies it.
type ReEncrypter interface {
	ReEncrypt(ctx context.Context, in *kms.ReEncryptInput, opts ...func(*kms.Options)) (*kms.ReEncryptOutput, error)
}

// RewrapManifests re-encrypts, under the KMS key targetARN, the chosen wrapped key of every complete
// backup of every table, and tells done of each manifest that holds one (rewrapped false: it was
// already under the target and was left alone, so an interrupted run is finished by running it
// again). Accept, if set,
// is asked about the key each wrapped key was under before (KMS names it): a manifest whose key it
// refuses is not rewritten, and the run fails.
func (r *Runner) RewrapManifests(ctx context.Context, k ReEncrypter, kind RewrapKind, targetARN string,
	accept func(sourceARN string) error, done func(rewrapped bool)) error {
	cats, err := r.List(ctx)
	if err != nil {
		return err
	}
	for _, c := range cats {
		for _, m := range c.Backups {
			if err := ctx.Err(); err != nil {
				return err
			}
			if kind == RewrapCanaries && (m.VaultKeyCanary == nil || len(m.VaultKeyCanary.WrappedKey) == 0) {
				continue // not a vault backup
			}
			rewrapped, err := r.rewrapManifest(ctx, k, kind, m, targetARN, accept)
			if err != nil {
				return fmt.Errorf("backup %s/%s: %w", m.Table, m.ID, err)
			}
			done(rewrapped)
		}
	}
	return nil
}

func (r *Runner) rewrapManifest(ctx context.Context, k ReEncrypter, kind RewrapKind, m *Manifest, targetARN string,
	accept func(string) error) (bool, error) {
	var blob *[]byte
	var keyID *string
	var ec map[string]string
	switch kind {
	case RewrapDataKeys:
		blob, keyID, ec = &m.WrappedKey, &m.KeyID, encryptionContext(m.Table, m.ID)
	case RewrapCanaries:
		blob, keyID, ec = &m.VaultKeyCanary.WrappedKey, &m.VaultKeyCanary.KeyID, canaryContext(m.Table, m.ID)
	default:
		return false, fmt.Errorf("unknown rewrap kind %d", kind)
	}
	if *keyID == targetARN {
		return false, nil
	}
	dk, err := r.openManifest(ctx, m)
	if err != nil {
		return false, err
	}
	out, err := k.ReEncrypt(ctx, &kms.ReEncryptInput{
		CiphertextBlob: *blob, SourceEncryptionContext: ec,
		DestinationKeyId: aws.String(targetARN), DestinationEncryptionContext: ec,
	})
	if err != nil {
		return false, fmt.Errorf("re-encrypt under %s: %w", targetARN, err)
	}
	if accept != nil {
		if err := accept(aws.ToString(out.SourceKeyId)); err != nil {
			return false, err
		}
	}
	*blob, *keyID = out.CiphertextBlob, aws.ToString(out.KeyId)
	if err := r.putManifest(ctx, m, dk); err != nil {
		return false, err
	}
	return true, nil
}
