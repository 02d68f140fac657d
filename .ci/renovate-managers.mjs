// Checks that each custom (regex) manager of renovate.json finds what it is meant to update: Renovate's
// validator checks the configuration's shape, not that a pattern still matches the Makefile. Prints each
// dependency found; fails when a manager or one of its patterns finds nothing.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

const config = JSON.parse(readFileSync("renovate.json", "utf8"));
const files = execFileSync("git", ["ls-files"], { encoding: "utf8" }).split("\n").filter(Boolean);
let failed = false;
for (const m of config.customManagers ?? []) {
  const patterns = m.managerFilePatterns.map((p) => new RegExp(p.slice(1, -1)));
  const matched = files.filter((f) => patterns.some((p) => p.test(f)));
  if (matched.length === 0) {
    console.log(`renovate-check: "${m.description}" matches no file (${m.managerFilePatterns})`);
    failed = true;
  }
  for (const file of matched) {
    const text = readFileSync(file, "utf8");
    for (const s of m.matchStrings) {
      const found = [...text.matchAll(new RegExp(s, "g"))].map((x) => x.groups);
      if (found.length === 0) {
        console.log(`renovate-check: ${file}: "${m.description}" finds nothing with ${s}`);
        failed = true;
      }
      for (const g of found) {
        console.log(`renovate-check: ${file}: ${g.depName ?? m.depNameTemplate} ${g.currentValue} (${g.datasource ?? m.datasourceTemplate})`);
      }
    }
  }
}
process.exit(failed ? 1 : 0);
