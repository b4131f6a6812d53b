package tracking

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
)

// The tracking connection (stream.go) speaks RESP3 itself: go-redis's
// client-side cache keeps raw replies per pooled connection and does not
// hand out its invalidation stream, while the near cache needs one stream
// per shard, with its reads and writes in order with the invalidations,
// whose loss it notices at once. The subset of RESP3 below is all that
// connection ever receives.

// respError is an error reply ("-ERR ..."). Like go-redis's, it is a
// redis.Error whose message is the reply's text, so that package shard
// classifies it the same way.
type respError string

func (e respError) Error() string { return string(e) }

// RedisError marks respError as a redis.Error.
func (respError) RedisError() {}

// respPush is an out-of-band push message (">").
type respPush []any

// readRESP reads one RESP3 value: strings (simple, bulk, verbatim, big
// numbers, doubles) as string, integers as int64, booleans as bool, nulls as
// nil, errors as respError, arrays, sets and maps (flattened) as []any and
// pushes as respPush. Attributes are skipped.
func readRESP(r *bufio.Reader) (any, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return nil, fmt.Errorf("resp: malformed line %q", line)
	}
	kind, body := line[0], string(line[1:len(line)-2])
	switch kind {
	case '+', ',', '(':
		return body, nil
	case '-':
		return respError(body), nil
	case ':':
		return strconv.ParseInt(body, 10, 64)
	case '_':
		return nil, nil
	case '#':
		return body == "t", nil
	case '$', '=', '!':
		n, err := strconv.Atoi(body)
		if err != nil || n < 0 {
			return nil, err // $-1: a RESP2-style null
		}
		b := make([]byte, n+2)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		if kind == '!' {
			return respError(b[:n]), nil
		}
		return string(b[:n]), nil
	case '*', '~', '>', '%', '|':
		n, err := strconv.Atoi(body)
		if err != nil {
			return nil, err
		}
		if n < 0 {
			return nil, nil
		}
		if kind == '%' || kind == '|' {
			n *= 2
		}
		items := make([]any, n)
		for i := range items {
			if items[i], err = readRESP(r); err != nil {
				return nil, err
			}
		}
		switch kind {
		case '>':
			return respPush(items), nil
		case '|': // attributes describe the next value; skip them
			return readRESP(r)
		}
		return items, nil
	}
	return nil, fmt.Errorf("resp: unknown type %q", kind)
}

// appendCommand appends args as a RESP array of bulk strings.
func appendCommand(b []byte, args ...string) []byte {
	b = append(b, '*')
	b = strconv.AppendInt(b, int64(len(args)), 10)
	b = append(b, "\r\n"...)
	for _, a := range args {
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(a)), 10)
		b = append(b, "\r\n"...)
		b = append(b, a...)
		b = append(b, "\r\n"...)
	}
	return b
}
