// Package domain holds OctoStore's pure types and rules: lock names, tenants,
// fencing tokens, leases and the decisions that move a lock between states.
//
// Nothing here performs I/O or reads a clock: every decision takes the
// current time as an argument, so the rules can be table-tested and the
// single writer in package application can replay them deterministically.
package domain
