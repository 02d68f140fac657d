// Package adversarial holds the attack suite that runs against the local stack: it plants card numbers
// in everything a client controls, on every route, then scans everything the stack stored and logged.
// It has tests only.
package adversarial
