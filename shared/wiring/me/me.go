// Package me wires the me function: it needs nothing beyond the runtime every HTTP function has.
package me

import (
	"github.com/vaultbill/vaultbill/shared/api/endpoint"
	"github.com/vaultbill/vaultbill/shared/api/routes"
	"github.com/vaultbill/vaultbill/shared/handlers/me"
	"github.com/vaultbill/vaultbill/shared/wiring"
)

// Build is the function's cold start.
func Build(env wiring.Env) (wiring.Handler, error) {
	return wiring.HTTP(routes.Me, Register)(env)
}

// Register adds the route.
func Register(_ wiring.Env, svc *endpoint.Service) error {
	me.Routes(svc)
	return nil
}
