package client_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/octostore/octostore/client"
)

// A job that must not run twice at once: take the lock, pass the fencing
// token to what it writes, release.
func Example() {
	c, err := client.New(client.Config{URL: os.Getenv("OCTOSTORE_URL"), Token: os.Getenv("OCTOSTORE_TOKEN")})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	lease, err := c.Acquire(ctx, "jobs/nightly", client.AcquireOptions{TTL: time.Minute, Owner: "host-a", Wait: 30 * time.Second})
	if client.IsCode(err, "lock_held") {
		log.Print("another host runs the job")
		return
	}
	if err != nil {
		log.Fatal(err)
	}
	defer c.Release(ctx, "jobs/nightly", lease.LeaseID)
	fmt.Println("running with fencing token", lease.FencingToken)
}
