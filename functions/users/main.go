// Command users serves /v1/users: the user pool's users and their roles, for administrators.
package main

import (
	"github.com/vaultbill/vaultbill/shared/routes"
	"github.com/vaultbill/vaultbill/shared/users"
	"github.com/vaultbill/vaultbill/shared/wiring"
)

func main() { wiring.RunAPI(routes.Users, users.Register) }
