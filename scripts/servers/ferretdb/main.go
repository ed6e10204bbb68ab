// Command ferretdb runs FerretDB v1 (MongoDB wire protocol over SQLite, or PostgreSQL with
// -handler=postgresql) for OMS tests and local runs.
//
// Upstream's own binary needs a version file that `go install` does not produce, so this
// wrapper embeds FerretDB through its public `ferretdb` package instead. FerretDB listens on a
// private Unix socket; clients reach it through the proxy in proxy.go, which restores what OMS
// relies on from MongoDB:
//
//   - Single-document atomicity. FerretDB v1 updates a document by reading it, changing it in
//     Go and writing it back, with no lock between the two, so concurrent updates lose writes
//     (200 racing conditional decrements of a counter of 50 all "matched"). The proxy runs the
//     write commands of one database one at a time; reads pass through unserialized. Each
//     database is its own SQLite file, and each OMS service has its own database, so services
//     still write in parallel. `currentOp` lists the writes holding or waiting for a lock.
//   - Bulk writes of any size. FerretDB holds one database connection per update statement
//     until the whole command ends and hangs past its pool (100 connections); the proxy sends
//     update and delete commands one statement at a time and merges the replies.
//
// Four patches to FerretDB (patches/, applied by scripts/provision-servers). Two make lookups and
// writes by `_id` use its `_id` index: its queries spelled the index's expression differently,
// so every one read the whole table, and its SQLite backend used `_id` only from a filter
// that was exactly {_id: X}, so a compare-and-set such as {_id: X, "state.status": ...} in
// update, findAndModify or delete read it too. Another (with partial_indexes.go) lets the
// outbox and deadline sweeps read only the documents they must visit; the last turns off
// FerretDB's tracking of every iterator and transaction, a debugging aid that cost it a
// fifteenth of its CPU.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen-addr", "127.0.0.1:27017", "TCP address to listen on")
	dataDir := flag.String("sqlite-dir", "data", "directory for the SQLite databases")
	handler := flag.String("handler", "sqlite", "FerretDB's backend: sqlite or postgresql")
	postgresqlURL := flag.String("postgresql-url", "", "PostgreSQL URL, for -handler=postgresql")
	flag.Parse()
	if os.Getenv("GOGC") == "" {
		// A tenth of FerretDB's CPU under load went to collecting garbage at Go's default
		// (GOGC=100) on its small heap; collect at 5x the live heap, capped at 1 GiB.
		debug.SetGCPercent(400)
		debug.SetMemoryLimit(1 << 30)
	}
	if *handler != "sqlite" && *handler != "postgresql" {
		log.Fatalf("unknown -handler %q", *handler)
	}

	dir, err := filepath.Abs(*dataDir)
	if err != nil {
		log.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		log.Fatal(err)
	}
	// Unix socket paths are short (108 bytes), so the socket lives in the temp dir.
	socket := filepath.Join(os.TempDir(), fmt.Sprintf("oms-ferretdb-%d.sock", os.Getpid()))
	_ = os.Remove(socket)
	defer os.Remove(socket)

	text := slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})
	logger := slog.New(&deferredAttrs{inner: text})
	f, err := ferretdb.New(&ferretdb.Config{
		Listener: ferretdb.ListenerConfig{Unix: socket},
		Logger:   logger,
		Handler:  *handler,
		// WAL with synchronous=NORMAL survives a crash of this process, not of the machine:
		// right for test and dev data, and it spares an fsync on every commit.
		SQLiteURL:     "file:" + dir + "/?_pragma=synchronous(normal)",
		PostgreSQLURL: *postgresqlURL,
	})
	if err != nil {
		log.Fatal(err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	if err := waitForSocket(socket, 30*time.Second); err != nil {
		log.Fatal(err)
	}

	listener, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	go func() {
		<-ctx.Done()
		listener.Close()
	}()
	if *handler == "sqlite" {
		go keepPartialIndexes(ctx, dir)
	}
	log.Printf("ferretdb (%s) listening on %s", *handler, *listen)
	p := newProxy(socket)
	for {
		client, err := listener.Accept()
		if err != nil {
			break
		}
		go p.serve(client)
	}
	if err := <-done; err != nil && ctx.Err() == nil {
		log.Fatal(err)
	}
}

func waitForSocket(path string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if conn, err := net.Dial("unix", path); err == nil {
			return conn.Close()
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("ferretdb did not listen on %s within %s", path, within)
}
