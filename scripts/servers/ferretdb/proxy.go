package main

// The proxy between clients and FerretDB's private socket: see the header of main.go for why
// it exists. Messages are framed and read with the MongoDB Go driver's wiremessage and bson
// packages; only update and delete commands of several statements are ever rewritten (split).

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"sort"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/x/bsonx/bsoncore"
	"go.mongodb.org/mongo-driver/x/mongo/driver/wiremessage"
)

const (
	headerLength = 16
	maxMessage   = 48 << 20
)

// Commands that only read: they run concurrently. Any other OP_MSG takes its database's lock.
var readOnly = map[string]bool{
	"hello": true, "isMaster": true, "ismaster": true, "ping": true, "buildInfo": true,
	"buildinfo": true, "find": true, "getMore": true, "count": true, "distinct": true,
	"listCollections": true, "listDatabases": true, "listIndexes": true, "killCursors": true,
	"endSessions": true, "getParameter": true, "serverStatus": true, "dbStats": true,
	"collStats": true, "connectionStatus": true, "whatsmyuri": true, "getLog": true,
	"getCmdLineOpts": true, "hostInfo": true, "saslStart": true, "saslContinue": true,
}

type proxy struct {
	backend string

	mu     sync.Mutex
	locks  map[string]*sync.Mutex // one per database ($db): each is its own SQLite file
	ops    map[int64]*operation   // writes holding or waiting for a lock, for currentOp
	nextOp int64
}

// operation is a write command in flight, as currentOp reports it.
type operation struct {
	id      int64
	msg     *message
	waiting bool
	started time.Time
}

func newProxy(backend string) *proxy {
	return &proxy{backend: backend, locks: map[string]*sync.Mutex{}, ops: map[int64]*operation{}}
}

// message is a parsed OP_MSG: its body (section kind 0) and document sequences (kind 1).
type message struct {
	raw       []byte
	requestID int32
	flags     wiremessage.MsgFlag
	body      bson.Raw
	sequences map[string][]bson.Raw
	command   string
	db        string
}

func parseMessage(raw []byte) (*message, bool) {
	_, requestID, _, opcode, rest, ok := wiremessage.ReadHeader(raw)
	if !ok || opcode != wiremessage.OpMsg {
		return nil, false
	}
	m := &message{raw: raw, requestID: requestID, sequences: map[string][]bson.Raw{}}
	if m.flags, rest, ok = wiremessage.ReadMsgFlags(rest); !ok {
		return nil, false
	}
	if m.flags&wiremessage.ChecksumPresent != 0 {
		if len(rest) < 4 {
			return nil, false
		}
		rest = rest[:len(rest)-4] // the messages we build carry none
	}
	for len(rest) > 0 {
		var kind wiremessage.SectionType
		if kind, rest, ok = wiremessage.ReadMsgSectionType(rest); !ok {
			return nil, false
		}
		switch kind {
		case wiremessage.SingleDocument:
			var doc bsoncore.Document
			if doc, rest, ok = wiremessage.ReadMsgSectionSingleDocument(rest); !ok {
				return nil, false
			}
			m.body = bson.Raw(doc)
		case wiremessage.DocumentSequence:
			var id string
			var docs []bsoncore.Document
			if id, docs, rest, ok = wiremessage.ReadMsgSectionDocumentSequence(rest); !ok {
				return nil, false
			}
			for _, doc := range docs {
				m.sequences[id] = append(m.sequences[id], bson.Raw(doc))
			}
		default:
			return nil, false
		}
	}
	if m.body == nil || m.body.Validate() != nil {
		return nil, false
	}
	elements, err := m.body.Elements()
	if err != nil || len(elements) == 0 {
		return nil, false
	}
	m.command = elements[0].Key()
	m.db, _ = m.body.Lookup("$db").StringValueOK()
	return m, true
}

// collection is the command's first value: the collection it names.
func (m *message) collection() string {
	elements, _ := m.body.Elements()
	name, _ := elements[0].Value().StringValueOK()
	return name
}

// encodeMessage frames body as an OP_MSG with a single section.
func encodeMessage(requestID, responseTo int32, body []byte) []byte {
	start, b := wiremessage.AppendHeaderStart(nil, requestID, responseTo, wiremessage.OpMsg)
	b = wiremessage.AppendMsgFlags(b, 0)
	b = wiremessage.AppendMsgSectionType(b, wiremessage.SingleDocument)
	b = append(b, body...)
	return bsoncore.UpdateLength(b, start, int32(len(b)-int(start)))
}

// conn is one client connection and its own connection to FerretDB.
type conn struct {
	client      net.Conn
	backend     net.Conn
	fromBackend *bufio.Reader
}

// serve relays one client connection, message by message, through its own backend connection.
func (p *proxy) serve(client net.Conn) {
	defer client.Close()
	backend, err := net.Dial("unix", p.backend)
	if err != nil {
		log.Printf("proxy: %v", err)
		return
	}
	defer backend.Close()
	c := &conn{client: client, backend: backend, fromBackend: bufio.NewReader(backend)}
	fromClient := bufio.NewReader(client)
	for {
		request, err := readMessage(fromClient)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				log.Printf("proxy: reading a request: %v", err)
			}
			return
		}
		if err := p.handle(c, request); err != nil {
			log.Printf("proxy: %v", err)
			return
		}
	}
}

func (p *proxy) handle(c *conn, raw []byte) error {
	m, ok := parseMessage(raw)
	if !ok || readOnly[m.command] {
		// Reads, and what is not an OP_MSG we can read: FerretDB answers only the handshake in
		// OP_QUERY, and refuses an OP_MSG it cannot parse.
		return c.relay(raw)
	}
	var reply []byte
	var err error
	if m.command == "currentOp" {
		reply, err = c.reply(m, p.currentOp())
	} else {
		reply, err = p.write(c, m)
	}
	if err != nil {
		return err
	}
	if reply == nil || m.flags&wiremessage.MoreToCome != 0 {
		return nil // an unacknowledged write gets no reply
	}
	// Written after the lock is released: a slow client never holds up its database's writes.
	_, err = c.client.Write(reply)
	return err
}

// write runs one write command while holding its database's lock.
func (p *proxy) write(c *conn, m *message) ([]byte, error) {
	defer p.lock(m)()
	switch m.command {
	case "update":
		return p.statements(c, m, "updates")
	case "delete":
		return p.statements(c, m, "deletes")
	}
	return c.forward(m)
}

// lock takes the lock of m's database and returns its release; meanwhile currentOp lists m.
func (p *proxy) lock(m *message) func() {
	p.mu.Lock()
	l := p.locks[m.db]
	if l == nil {
		l = new(sync.Mutex)
		p.locks[m.db] = l
	}
	p.nextOp++
	op := &operation{id: p.nextOp, msg: m, waiting: true, started: time.Now()}
	p.ops[op.id] = op
	p.mu.Unlock()

	l.Lock()
	p.mu.Lock()
	op.waiting = false
	p.mu.Unlock()
	return func() {
		l.Unlock()
		p.mu.Lock()
		delete(p.ops, op.id)
		p.mu.Unlock()
	}
}

// currentOp answers MongoDB's command of that name (FerretDB's lists nothing) with the write
// commands that hold or wait for a database's lock: which write everyone else waits behind.
func (p *proxy) currentOp() bson.D {
	p.mu.Lock()
	defer p.mu.Unlock()
	inprog := bson.A{}
	ids := make([]int64, 0, len(p.ops))
	for id := range p.ops {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		op := p.ops[id]
		inprog = append(inprog, bson.D{
			{Key: "opid", Value: op.id},
			{Key: "active", Value: true},
			{Key: "op", Value: "command"},
			{Key: "ns", Value: op.msg.db + "." + op.msg.collection()},
			{Key: "command", Value: op.msg.body},
			{Key: "waitingForLock", Value: op.waiting},
			{Key: "microsecs_running", Value: time.Since(op.started).Microseconds()},
		})
	}
	return bson.D{{Key: "inprog", Value: inprog}, {Key: "ok", Value: 1.0}}
}

// statements runs an update or delete command one statement at a time, each as a command of
// its own, and merges their replies into the one MongoDB gives. Splitting is what keeps large
// bulk writes alive: FerretDB v1 keeps every statement's read cursor, and so one of its
// database connections, open until the whole command ends (a `defer` inside its loop), and
// hangs once its pool is spent (100 SQLite connections, 50 PostgreSQL ones). It honours
// `ordered`, and numbers writeErrors by the statement's index as MongoDB does. Even a small
// bulk is split: FerretDB's own reply to an update whose statement failed lacks `nModified`,
// which drivers require.
func (p *proxy) statements(c *conn, m *message, field string) ([]byte, error) {
	statements := m.sequences[field]
	if array, ok := m.body.Lookup(field).ArrayOK(); ok {
		values, _ := array.Values()
		for _, v := range values {
			if doc, ok := v.DocumentOK(); ok {
				statements = append(statements, doc)
			}
		}
	}
	if len(statements) <= 1 {
		return c.forward(m) // nothing to split: FerretDB answers as it does
	}
	ordered := true
	if v, ok := m.body.Lookup("ordered").BooleanOK(); ok {
		ordered = v
	}
	var n, modified int32
	var upserted, writeErrors bson.A
	var reply bson.Raw
	for i, statement := range statements {
		var err error
		if reply, err = p.statement(c, m, field, statement); err != nil {
			return nil, err
		}
		// A command error (ok: 0) ends the command as FerretDB itself would, earlier
		// statements applied.
		if ok, _ := reply.Lookup("ok").AsInt64OK(); ok != 1 {
			return encodeMessage(wiremessage.NextRequestID(), m.requestID, reply), nil
		}
		count, _ := reply.Lookup("n").AsInt32OK()
		changed, _ := reply.Lookup("nModified").AsInt32OK()
		n, modified = n+count, modified+changed
		upserted = append(upserted, reindexed(reply.Lookup("upserted"), i)...)
		errs := reindexed(reply.Lookup("writeErrors"), i)
		writeErrors = append(writeErrors, errs...)
		if ordered && len(errs) > 0 {
			break
		}
	}
	merged := bson.D{{Key: "n", Value: n}}
	if len(upserted) > 0 {
		merged = append(merged, bson.E{Key: "upserted", Value: upserted})
	}
	if field == "updates" {
		merged = append(merged, bson.E{Key: "nModified", Value: modified})
	}
	if len(writeErrors) > 0 {
		merged = append(merged, bson.E{Key: "writeErrors", Value: writeErrors})
	}
	merged = append(merged, bson.E{Key: "ok", Value: 1.0})
	return c.reply(m, merged)
}

// statement runs one update or delete statement of m as a command of its own.
func (p *proxy) statement(c *conn, m *message, field string, statement bson.Raw) (bson.Raw, error) {
	command, err := withField(m.body, field, bson.A{statement})
	if err != nil {
		return nil, err
	}
	return c.command(m, command)
}

// command sends body to FerretDB as an OP_MSG of its own and returns the reply's body.
func (c *conn) command(m *message, body bson.Raw) (bson.Raw, error) {
	raw, err := c.exchange(encodeMessage(m.requestID, 0, body))
	if err != nil {
		return nil, err
	}
	reply, ok := parseMessage(raw)
	if !ok {
		return nil, fmt.Errorf("unreadable reply to %s", m.command)
	}
	return reply.body, nil
}

// forward sends m unchanged and returns FerretDB's reply (none to an unacknowledged write).
func (c *conn) forward(m *message) ([]byte, error) {
	if m.flags&wiremessage.MoreToCome != 0 {
		_, err := c.backend.Write(m.raw)
		return nil, err
	}
	return c.exchange(m.raw)
}

// exchange sends one request to FerretDB and reads its one reply (writes never stream).
func (c *conn) exchange(request []byte) ([]byte, error) {
	if _, err := c.backend.Write(request); err != nil {
		return nil, err
	}
	return readMessage(c.fromBackend)
}

// relay forwards a request and every reply to it (exhaust cursors stream several).
func (c *conn) relay(request []byte) error {
	if _, err := c.backend.Write(request); err != nil {
		return err
	}
	if wiremessage.IsMsgMoreToCome(request) {
		return nil
	}
	for {
		reply, err := readMessage(c.fromBackend)
		if err != nil {
			return err
		}
		if _, err := c.client.Write(reply); err != nil {
			return err
		}
		if !wiremessage.IsMsgMoreToCome(reply) {
			return nil
		}
	}
}

// reply frames a document the proxy answers itself as the reply to m.
func (c *conn) reply(m *message, doc bson.D) ([]byte, error) {
	body, err := bson.Marshal(doc)
	if err != nil {
		return nil, err
	}
	return encodeMessage(wiremessage.NextRequestID(), m.requestID, body), nil
}

func readMessage(r *bufio.Reader) ([]byte, error) {
	header := make([]byte, headerLength)
	if _, err := io.ReadFull(r, header); err != nil {
		return nil, err
	}
	length, _, _, _, _, _ := wiremessage.ReadHeader(header)
	if length < headerLength || length > maxMessage {
		return nil, fmt.Errorf("bad message length %d", length)
	}
	message := make([]byte, length)
	copy(message, header)
	if _, err := io.ReadFull(r, message[headerLength:]); err != nil {
		return nil, err
	}
	return message, nil
}

// withField is doc with key's value replaced by value (or appended when absent).
func withField(doc bson.Raw, key string, value any) (bson.Raw, error) {
	elements, err := doc.Elements()
	if err != nil {
		return nil, err
	}
	out := make(bson.D, 0, len(elements)+1)
	replaced := false
	for _, e := range elements {
		if e.Key() == key {
			out, replaced = append(out, bson.E{Key: key, Value: value}), true
			continue
		}
		out = append(out, bson.E{Key: e.Key(), Value: e.Value()})
	}
	if !replaced {
		out = append(out, bson.E{Key: key, Value: value})
	}
	return marshal(out)
}

// reindexed is a reply's upserted or writeErrors array, its entries' `index` set to index:
// a statement sent alone is always statement 0 to FerretDB.
func reindexed(v bson.RawValue, index int) bson.A {
	array, ok := v.ArrayOK()
	if !ok {
		return nil
	}
	values, _ := array.Values()
	var out bson.A
	for _, value := range values {
		doc, ok := value.DocumentOK()
		if !ok {
			continue
		}
		entry, err := withField(doc, "index", int32(index))
		if err != nil {
			continue
		}
		out = append(out, entry)
	}
	return out
}

func marshal(doc bson.D) (bson.Raw, error) {
	b, err := bson.Marshal(doc)
	return bson.Raw(b), err
}
