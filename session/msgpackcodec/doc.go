// Package msgpackcodec is a session.Codec that stores session values as
// MessagePack (github.com/vmihailenco/msgpack/v5). It lives apart from
// package session so that the session core imports only the standard
// library and the store contract:
//
//	m := session.New(c)
//	m.Codec = msgpackcodec.Codec{}
package msgpackcodec
