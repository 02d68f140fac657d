// Command users serves /v1/users: the user pool's users and their roles, for administrators.
package main

import (
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/api/wiring"
	"github.com/vaultbill/vaultbill/shared/handlers/users"
)

func main() { wiring.RunAPI(routes.Users, users.Register) }
