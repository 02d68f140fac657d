// Package tablescan walks a DynamoDB table with a pool of workers: the shape of every operator command
// that visits each item once (key rewrapping, the customer migration).
package tablescan

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Each scans with in, page by page, and calls fn for every item from workers goroutines (at least one).
// The first error, of the scan or of fn, stops the walk: no new item is handed out, the items in
// flight finish, and that error is returned.
func Each(ctx context.Context, db dynamodb.ScanAPIClient, in *dynamodb.ScanInput, workers int,
	fn func(ctx context.Context, item map[string]types.AttributeValue) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	work := make(chan map[string]types.AttributeValue)
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for item := range work {
				if err := fn(ctx, item); err != nil {
					cancel(err)
				}
			}
		}()
	}
	scanErr := scan(ctx, db, in, work)
	close(work)
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	if scanErr != nil {
		return scanErr
	}
	return context.Cause(ctx)
}

func scan(ctx context.Context, db dynamodb.ScanAPIClient, in *dynamodb.ScanInput, work chan<- map[string]types.AttributeValue) error {
	p := dynamodb.NewScanPaginator(db, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("scan %s: %w", *in.TableName, err)
		}
		for _, item := range page.Items {
			select {
			case work <- item:
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		}
	}
	return nil
}
