package main

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite"
)

// OMS's outbox relays sweep their collection for the documents whose `outbox` still holds
// entries. patches/sqlite-nonempty-pushdown.patch has FerretDB ask SQLite for them with
// `_ferretdb_sjson->'outbox' <> '{}'`; this partial index, on every table, holds only those
// documents, so a sweep reads what is pending instead of every stored document. On a table
// without an `outbox` field it stays empty (the condition is NULL there).
const outboxIndex = `CREATE INDEX IF NOT EXISTS %q ON %q (_ferretdb_sjson->'outbox')
	WHERE _ferretdb_sjson->'outbox' <> '{}'`

// indexOutboxes keeps the outbox index on every table of every database in dir, checking for
// new collections a few times a second. It is only a faster way to the same answers, so a
// table that does not have it yet is merely read in full.
func indexOutboxes(ctx context.Context, dir string) {
	databases := map[string]*sql.DB{}
	defer func() {
		for _, db := range databases {
			db.Close()
		}
	}()
	for ctx.Err() == nil {
		files, _ := filepath.Glob(filepath.Join(dir, "*.sqlite"))
		present := map[string]bool{}
		for _, file := range files {
			present[file] = true
			db, ok := databases[file]
			if !ok {
				var err error
				if db, err = sql.Open("sqlite", "file:"+file+"?_pragma=busy_timeout(10000)"); err != nil {
					log.Printf("indexer: %v", err)
					continue
				}
				db.SetMaxOpenConns(1)
				databases[file] = db
			}
			if err := indexTables(ctx, db); err != nil {
				log.Printf("indexer: %s: %v", filepath.Base(file), err)
			}
		}
		for file, db := range databases { // dropped databases
			if !present[file] {
				db.Close()
				delete(databases, file)
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func indexTables(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, `SELECT table_name FROM _ferretdb_collections
		WHERE table_name || '_oms_outbox' NOT IN (SELECT name FROM sqlite_master WHERE type = 'index')`)
	if err != nil {
		return nil // a database FerretDB is still creating
	}
	var tables []string // those still without the index
	for rows.Next() {
		var table string
		if err := rows.Scan(&table); err != nil {
			rows.Close()
			return err
		}
		tables = append(tables, table)
	}
	rows.Close()
	for _, table := range tables {
		if _, err := db.ExecContext(ctx, fmt.Sprintf(outboxIndex, table+"_oms_outbox", table)); err != nil {
			return err // the table was dropped meanwhile, or is busy: next round
		}
	}
	return nil
}
