// The versions of the supply-chain tools that make runs (go run <package>@<version>; see the Makefile).
// Nothing is built in this module: it exists so that Renovate's gomod manager bumps these pins like any
// other Go dependency, the vulnerability database snapshot (a pseudo-version) included. Do not run
// go mod tidy here: it would drop the requirements, since no package imports them.
module vaultbill.dev/tools

go 1.26

require (
	github.com/CycloneDX/cyclonedx-gomod v1.10.0
	golang.org/x/vuln v1.9.0
	golang.org/x/vulndb v0.0.0-20261105234957-e22db6528018
)
