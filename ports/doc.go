// Package ports declares the interfaces the application needs from the
// outside world (the driven, or secondary, ports of a hexagonal design).
//
// Note the direction: in this repository "ports" are outbound interfaces
// such as storage and the clock, implemented by packages under adapters/.
// Inbound adapters (HTTP) call package application directly.
package ports
