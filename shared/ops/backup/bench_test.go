package backup_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/vaultbill/vaultbill/shared/ops/backup"
)

// BenchmarkBackupRestore measures backup and restore throughput against the emulator for tables of
// growing size (items/s, MB/s of NDJSON) and the KMS calls each backup makes. `make bench` runs it;
// `make test` does not.
//
//	go test -run '^$' -bench BackupRestore -benchtime 1x ./shared/ops/backup
func BenchmarkBackupRestore(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("items=%d", n), func(b *testing.B) {
			e := newEnv(b)
			e.billingOnly = true
			ctx := context.Background()
			start := time.Now()
			// seed(k) writes about 2.67k billing items per 1000; only the billing table is measured.
			e.seed(b, n*3/8)
			src, err := e.r.Source("billing")
			if err != nil {
				b.Fatal(err)
			}
			e.r.Tables = []backup.Source{src}
			b.Logf("seeded %d billing items in %s", n, time.Since(start).Round(time.Millisecond))
			b.ResetTimer()
			var backupSec, restoreSec float64
			var items, bytes int64
			for i := range b.N {
				e.calls.Reset()
				res, err := e.r.Backup(ctx)
				if err != nil {
					b.Fatal(err)
				}
				t := res.Tables[0]
				backupSec += t.Duration.Seconds()
				items, bytes = t.Items, t.Bytes
				b.ReportMetric(float64(e.calls.Service("KMS")), "KMS-calls/backup")
				rr, err := e.r.Restore(ctx, backup.RestoreRequest{Source: "billing", From: res.ID, Table: fmt.Sprintf("%s-restore-%d", src.Name, i)})
				if err != nil {
					b.Fatal(err)
				}
				restoreSec += rr.Duration.Seconds()
				b.Logf("backup %s, restore %s (%d parts)", t.Duration.Round(time.Millisecond), rr.Duration.Round(time.Millisecond), rr.Parts)
				e.deleteTable(b, rr.Table)
			}
			runs := float64(b.N)
			b.ReportMetric(float64(items), "items")
			b.ReportMetric(float64(items)*runs/backupSec, "backup-items/s")
			b.ReportMetric(float64(bytes)*runs/backupSec/1e6, "backup-MB/s")
			b.ReportMetric(float64(items)*runs/restoreSec, "restore-items/s")
			b.ReportMetric(float64(bytes)*runs/restoreSec/1e6, "restore-MB/s")
		})
	}
}
