package main

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite"
)

// OMS's background jobs look for the few documents they must visit by a top-level field that
// is non-empty only on those: `outbox` holds the events an outbox relay has still to publish,
// `due` the deadline of an order still in progress (Order's deadline sweep).
// patches/sqlite-nonempty-pushdown.patch has FerretDB ask SQLite for them with
// `_ferretdb_sjson->'F' <> '{}'`; a partial index per field, on every table, holds only those
// documents, so a sweep reads what is pending instead of every stored document. On a table
// without the field it stays empty (the condition is NULL there).
var partiallyIndexed = []string{"outbox", "due"}

const partialIndex = `CREATE INDEX IF NOT EXISTS %q ON %q (_ferretdb_sjson->'%s')
	WHERE _ferretdb_sjson->'%s' <> '{}'`

// indexName is the partial index on field of table.
func indexName(table, field string) string {
	return table + "_oms_" + field
}

// keepPartialIndexes keeps the partial indexes on every table of every database in dir,
// checking for new collections a few times a second. They are only a faster way to the same
// answers, so a table that does not have them yet is merely read in full.
func keepPartialIndexes(ctx context.Context, dir string) {
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

// indexTables gives every table of db the partial indexes it still lacks.
func indexTables(ctx context.Context, db *sql.DB) error {
	missing := make([]string, len(partiallyIndexed))
	for i, field := range partiallyIndexed {
		missing[i] = fmt.Sprintf(
			"table_name || '_oms_%s' NOT IN (SELECT name FROM sqlite_master WHERE type = 'index')",
			field,
		)
	}
	rows, err := db.QueryContext(ctx, "SELECT table_name FROM _ferretdb_collections WHERE "+
		strings.Join(missing, " OR "))
	if err != nil {
		return nil // a database FerretDB is still creating
	}
	var tables []string // those still without one of the indexes
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
		for _, field := range partiallyIndexed {
			statement := fmt.Sprintf(partialIndex, indexName(table, field), table, field, field)
			if _, err := db.ExecContext(ctx, statement); err != nil {
				return err // the table was dropped meanwhile, or is busy: next round
			}
		}
	}
	return nil
}
