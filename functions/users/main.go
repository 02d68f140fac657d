// Command users serves /v1/users: the user pool's users and their roles, for administrators.
package main

import (
	"github.com/vaultbill/vaultbill/shared/wiring"
	"github.com/vaultbill/vaultbill/shared/wiring/users"
)

func main() { wiring.Run(users.Build) }
